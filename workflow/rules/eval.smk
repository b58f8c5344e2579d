# Evaluation on command schedules and the video, one job per seed.


rule eval:
    input:
        done="results/runs/seed{seed}/train.done",
    output:
        summary=report(
            "results/eval/seed{seed}.json",
            caption="../report/eval.rst",
            category="Evaluation",
            labels={"seed": "{seed}"},
        ),
        steps="results/eval/seed{seed}.csv",
    log:
        "results/logs/eval/seed{seed}.log",
    benchmark:
        "results/benchmarks/eval/seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: threads_of("eval")
    resources:
        mem_mb=mem_mb_of("eval"),
        runtime=runtime_of("eval"),
        gpu=gpus(),
    params:
        model=checkpoint_path,
        flags=eval_flags(),
    shell:
        "skeleton-steering eval --model_path {params.model} {params.flags}"
        " --out {output.summary} > {log} 2>&1"


rule render:
    input:
        done="results/runs/seed{seed}/train.done",
    output:
        video=report(
            "results/videos/seed{seed}.mp4",
            caption="../report/video.rst",
            category="Videos",
            labels={"seed": "{seed}", "file": "video"},
        ),
        preview=report(
            "results/videos/seed{seed}.gif",
            caption="../report/video.rst",
            category="Videos",
            labels={"seed": "{seed}", "file": "preview"},
        ),
    log:
        "results/logs/render/seed{seed}.log",
    benchmark:
        "results/benchmarks/render/seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: threads_of("render")
    resources:
        mem_mb=mem_mb_of("render"),
        runtime=runtime_of("render"),
        gpu=gpus(),
    params:
        model=checkpoint_path,
        flags=render_flags(),
        gl=render_env(),
    shell:
        "{params.gl}skeleton-steering render --model_path {params.model} {params.flags}"
        " --out {output.video} > {log} 2>&1"
