# Motion data: KIT clips (or the bundled synthetic sample) -> manifest -> trajectory -> cache.


if not config["kit_root"]:

    rule sample_kit:
        output:
            directory("results/sample_kit"),
        log:
            "results/logs/sample_kit.log",
        benchmark:
            "results/benchmarks/sample_kit.tsv"
        localrule: True
        conda:
            CONDA_ENV
        threads: threads_of("sample_kit")
        resources:
            mem_mb=mem_mb_of("sample_kit"),
            runtime=runtime_of("sample_kit"),
        params:
            seed=config["sample_kit"]["seed"],
            rate=config["sample_kit"]["rate"],
        shell:
            "skeleton-steering sample-kit --out {output} --seed {params.seed}"
            " --rate {params.rate} > {log} 2>&1"


rule extract:
    input:
        kit=kit_root(),
    output:
        manifest="results/expert_dataset/manifest.json",
    log:
        "results/logs/extract.log",
    benchmark:
        "results/benchmarks/extract.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: threads_of("extract")
    resources:
        mem_mb=mem_mb_of("extract"),
        runtime=runtime_of("extract"),
    params:
        out_dir=lambda wildcards, output: Path(output.manifest).parent,
        flags=extract_flags(),
    shell:
        "skeleton-steering extract --kit-root {input.kit:q} --out {params.out_dir}"
        " {params.flags} > {log} 2>&1"


rule retarget:
    input:
        manifest="results/expert_dataset/manifest.json",
    output:
        traj="results/kit_expert_traj.npz",
        qa="results/kit_expert_traj_qa.json",
        settings="results/kit_expert_traj_retarget.yaml",
    log:
        "results/logs/retarget.log",
    benchmark:
        "results/benchmarks/retarget.tsv"
    conda:
        CONDA_ENV
    threads: threads_of("retarget")
    resources:
        mem_mb=mem_mb_of("retarget"),
        runtime=runtime_of("retarget"),
    params:
        settings=retarget_settings(),
    shell:
        "printf '%s\\n' {params.settings:q} > {output.settings}"
        " && skeleton-steering retarget --manifest {input.manifest}"
        " --config {output.settings} --out {output.traj} > {log} 2>&1"


rule cache:
    input:
        traj="results/kit_expert_traj.npz",
    output:
        traj="results/cache/expert_traj.npz",
        disc_obs="results/cache/expert_disc_obs.npz",
    log:
        "results/logs/cache.log",
    benchmark:
        "results/benchmarks/cache.tsv"
    conda:
        CONDA_ENV
    threads: threads_of("cache")
    resources:
        mem_mb=mem_mb_of("cache"),
        runtime=runtime_of("cache"),
    params:
        out_dir=lambda wildcards, output: Path(output.traj).parent,
    # --force: Snakemake decides when the cache is stale, so the CLI's own check is skipped.
    shell:
        "skeleton-steering cache --trajectory {input.traj} --out {params.out_dir} --force"
        " > {log} 2>&1"
