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


# The reference policy (config `reference_policy`, by default the walker in policies/): its
# evaluation on the held-out seed, scripted and random schedules, and its video, so the report
# shows a trained walker beside the seeds. The schedules and lengths are those its record in
# policies/ reports.
rule reference_eval:
    input:
        policy=reference_policy(),
    output:
        scripted=f"{REFERENCE}/eval.json",
        scripted_steps=f"{REFERENCE}/eval.csv",
        random=f"{REFERENCE}/eval_random.json",
        random_steps=f"{REFERENCE}/eval_random.csv",
    log:
        "results/logs/reference_eval.log",
    benchmark:
        "results/benchmarks/reference_eval.tsv"
    conda:
        CONDA_ENV
    threads: threads_of("eval")
    resources:
        mem_mb=mem_mb_of("eval"),
        runtime=runtime_of("eval"),
        gpu=gpus(),
    shell:
        "(skeleton-steering eval --model_path {input.policy} --n_steps 1500 --episodes 4"
        " --deterministic --no_progress --out {output.scripted}"
        " && skeleton-steering eval --model_path {input.policy} --n_steps 1500 --episodes 8"
        " --schedule random --deterministic --no_progress --out {output.random}) > {log} 2>&1"


rule reference_render:
    input:
        policy=reference_policy(),
    output:
        video=f"{REFERENCE}/walker.mp4",
        preview=f"{REFERENCE}/walker.gif",
    log:
        "results/logs/reference_render.log",
    benchmark:
        "results/benchmarks/reference_render.tsv"
    conda:
        CONDA_ENV
    threads: threads_of("render")
    resources:
        mem_mb=mem_mb_of("render"),
        runtime=runtime_of("render"),
        gpu=gpus(),
    params:
        gl=render_env(),
    shell:
        "{params.gl}skeleton-steering render --model_path {input.policy} --n_steps 750"
        " --out {output.video} > {log} 2>&1"
