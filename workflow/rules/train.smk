# AMP + PPO training, one job per seed.


rule train:
    input:
        traj="results/cache/expert_traj.npz",
        disc_obs="results/cache/expert_disc_obs.npz",
        config=config["train"]["config"],
    output:
        # Touched by Snakemake once training finished. The checkpoints themselves are not
        # outputs: Snakemake deletes the outputs of a failed job, and a retry needs them.
        done=touch("results/runs/seed{seed}/train.done"),
    log:
        "results/logs/train/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/seed{seed}.tsv"
    retries: config["train"]["retries"]
    conda:
        CONDA_ENV
    threads: threads_of("train")
    resources:
        mem_mb=mem_mb_of("train"),
        runtime=runtime_of("train"),
        gpu=gpus("train"),
        # Only resources see the attempt number; a retry resumes from the newest checkpoint.
        attempt=lambda wildcards, attempt: attempt,
    params:
        run_dir=run_dir,
        env_id=config["env_id"],
        flags=train_flags(),
        overrides=train_overrides,
    shell:
        "skeleton-steering train --config {input.config} --env_id {params.env_id}"
        " --seed {wildcards.seed} --run_dir {params.run_dir} {params.flags}"
        " $(if [ {resources.attempt} -gt 1 ]; then echo --resume; fi)"
        " {params.overrides} > {log} 2>&1"
