# All seeds side by side: learning curves, the evaluation table, videos.


rule report:
    input:
        unpack(report_reference_inputs),
        done=expand("results/runs/seed{seed}/train.done", seed=config["seeds"]),
        evals=expand("results/eval/seed{seed}.json", seed=config["seeds"]),
        videos=expand("results/videos/seed{seed}.mp4", seed=config["seeds"]),
        previews=expand("results/videos/seed{seed}.gif", seed=config["seeds"]),
    output:
        report(
            directory("results/report"),
            htmlindex="index.html",
            caption="../report/report.rst",
            category="Summary",
        ),
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: threads_of("report")
    resources:
        mem_mb=mem_mb_of("report"),
        runtime=runtime_of("report"),
    params:
        runs=lambda wildcards, input: [str(Path(p).parent) for p in input.done],
        reference=report_reference_flags,
    shell:
        "skeleton-steering report --runs {params.runs} --evals {input.evals}"
        " --videos {input.videos} --previews {input.previews} {params.reference}"
        " --out {output} > {log} 2>&1"
