"""Fine-tuning that survives a stopped job: checkpoints outside the rule's output, resumed by a rerun.

The real path of the sft rule (``sft.train_config`` with the shipped template, ``sft.run_sft``,
``llamafactory-cli train``) on the session's tiny Qwen2.5-VL, on CPU. A run is really stopped:
it trains in a child process that is killed (SIGKILL, with every process under it, as a
scheduler ends a job) once its first checkpoint is complete; the rerun must resume from that
checkpoint and end at the global step of an unbroken run (``trainer_state.json``).

DeepSpeed: ZeRO-3 has a CPU accelerator (gloo, and a shared-memory op that DeepSpeed compiles
once per machine with ninja, ~1 min, cached in ~/.cache/torch_extensions), so the interrupted
and resumed run is repeated under ``config/deepspeed/zero3.json`` through LLaMA-Factory's
torchrun launch (a slow test: TIS_SLOW_TESTS=1). \
What needs a GPU is not tested here: bf16 kernels, NCCL, several ranks' memory.
The shipped ZeRO-2 and ZeRO-3 files are also run through LLaMA-Factory's own argument parser with
the paper's GPU settings and DeepSpeed's own config validation. These tests skip when deepspeed is
not installed (``pip install -c requirements/constraints.txt deepspeed``).
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from think_in_safety import sft
from think_in_safety.models import chat_data, tuning

from ..conftest import REPO

DATASET = "chat_think_tags"
RECORDS = 16
MAX_STEPS = 6
SAVE_STEPS = 2
HYPER = {"max_steps": MAX_STEPS, "per_device_train_batch_size": 2, "learning_rate": 1e-3, "logging_steps": 1}

# The child that is killed: the rule's call, with its arguments from a JSON file.
CHILD = """
import json, sys
from think_in_safety import sft
args = json.load(open(sys.argv[1]))
sft.run_sft(args.pop("config"), **args)
"""

HAVE_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None  # importing it takes seconds
needs_deepspeed = pytest.mark.skipif(not HAVE_DEEPSPEED, reason="deepspeed is not installed")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat") / "data"
    chat_data.write_chat_data(folder, "think_tags", RECORDS, seed=0)
    return folder


def _config(model, dataset, output_dir, deepspeed=None):
    template = sft.load_template(REPO / "config/llamafactory_sft.yaml")
    return sft.train_config(template, model, dataset, DATASET, output_dir, "qwen2_vl", HYPER, seed=0,
                            save_steps=SAVE_STEPS, deepspeed=deepspeed)


def _run(config, root, checkpoint_dir):
    return sft.run_sft(config, root / "train.yaml", root / "train.log", root / "summary.json", records=RECORDS,
                       checkpoint_dir=checkpoint_dir)


def _kill_tree(process):
    """SIGKILL ``process`` and every process under it (torchrun starts its ranks in new sessions)."""
    import psutil

    parent = psutil.Process(process.pid)
    family = [*parent.children(recursive=True), parent]
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=30)
    process.wait(timeout=30)


def _run_and_kill_after_first_checkpoint(config, root, checkpoint_dir, timeout=300):
    """Run the rule's call in a child, kill it once checkpoint-SAVE_STEPS is complete."""
    arguments = {"config": config, "config_path": str(root / "train.yaml"), "log_path": str(root / "train.log"),
                 "summary_path": str(root / "summary.json"), "records": RECORDS, "checkpoint_dir": str(checkpoint_dir)}
    (root / "args.json").write_text(json.dumps(arguments))
    process = subprocess.Popen([sys.executable, "-c", CHILD, str(root / "args.json")], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = checkpoint_dir / f"checkpoint-{SAVE_STEPS}" / tuning.COMPLETE_MARKER
    deadline = time.monotonic() + timeout
    try:
        while not marker.exists():
            assert process.poll() is None, f"training ended (exit {process.returncode}) before its first " \
                                           f"checkpoint:\n{(root / 'train.log').read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no checkpoint within the time limit"
            time.sleep(0.05)
    finally:
        _kill_tree(process)
    return (root / "train.log").read_text()


def _steps(folder):
    return json.loads((Path(folder) / "trainer_state.json").read_text())["global_step"]


def _check_interrupted(checkpoint_dir, output_dir):
    """The kill came before the end: nothing published, a complete checkpoint short of MAX_STEPS."""
    assert not output_dir.exists()
    assert not (checkpoint_dir / "train_results.json").exists()  # training had not finished
    latest = tuning.latest_checkpoint(checkpoint_dir)
    assert latest is not None and SAVE_STEPS <= tuning.checkpoint_step(latest) < MAX_STEPS
    return tuning.checkpoint_step(latest)


def test_stopped_run_resumes_to_the_unbroken_step_count(tmp_path, tiny_model, dataset):
    unbroken = tmp_path / "unbroken"
    unbroken.mkdir()
    summary = _run(_config(tiny_model, dataset, unbroken / "model"), unbroken, unbroken / "checkpoints")
    assert _steps(unbroken / "model") == MAX_STEPS == summary["global_step"]
    assert summary["resumed_from_step"] is None
    assert not (unbroken / "checkpoints").exists()  # spent once the model is out

    root = tmp_path / "stopped"
    root.mkdir()
    checkpoints, output = root / "checkpoints", root / "model"
    config = _config(tiny_model, dataset, output)
    _run_and_kill_after_first_checkpoint(config, root, checkpoints)
    reached = _check_interrupted(checkpoints, output)

    summary = _run(config, root, checkpoints)  # the rerun: same call, same folders
    log = (root / "train.log").read_text()
    assert f"Resuming from {checkpoints / f'checkpoint-{reached}'}" in log
    assert re.search(rf"Resuming training from checkpoint with epoch \d+ and global step {reached}\n", log)  # Trainer
    assert yaml.safe_load((root / "train.yaml").read_text())["resume_from_checkpoint"].endswith(f"checkpoint-{reached}")
    assert summary["resumed_from_step"] == reached
    assert _steps(output) == _steps(unbroken / "model") == summary["global_step"]
    assert (output / "model.safetensors").is_file() and not checkpoints.exists()
    assert not any(path.name.startswith("checkpoint-") for path in output.iterdir())


def test_latest_checkpoint_skips_and_deletes_incomplete_ones(tmp_path):
    for step, complete in ((3, True), (6, True), (9, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x")
        if complete:
            (folder / tuning.COMPLETE_MARKER).write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()  # not a checkpoint name: left alone
    assert tuning.latest_checkpoint(tmp_path) == tmp_path / "checkpoint-6"
    assert not (tmp_path / "checkpoint-9").exists() and (tmp_path / "checkpoint-3").exists()
    assert tuning.latest_checkpoint(tmp_path / "missing") is None


def test_checkpoints_of_another_run_are_not_resumed(tmp_path, dataset):
    model = tmp_path / "start"
    model.mkdir()
    (model / "config.json").write_text("{}")
    config = tuning.llamafactory_config(model, dataset, DATASET, tmp_path / "out", "qwen2_vl", HYPER, save_steps=3)
    checkpoints = tmp_path / "checkpoints"
    fingerprint = tuning.run_fingerprint(config, nproc=1)
    assert tuning.prepare_checkpoints(checkpoints, fingerprint) == (None, [])
    (checkpoints / "checkpoint-3").mkdir()
    (checkpoints / "checkpoint-3" / tuning.COMPLETE_MARKER).write_text("{}")
    (checkpoints / "model.safetensors").write_bytes(b"final model an earlier attempt did not move")
    # the same run again: resumed, and the stray final model removed
    assert tuning.prepare_checkpoints(checkpoints, fingerprint) == (checkpoints / "checkpoint-3", [])
    assert not (checkpoints / "model.safetensors").exists()
    # where the run writes is not what it trains
    moved = {**config, "output_dir": str(tmp_path / "elsewhere")}
    assert tuning.run_fingerprint(moved, nproc=1) == fingerprint
    assert tuning.run_fingerprint({**config, "learning_rate": 1.0}, nproc=1) != fingerprint
    assert tuning.run_fingerprint(config, nproc=2) != fingerprint  # ZeRO states load into as many ranks only
    zero = tmp_path / "zero.json"
    zero.write_text('{"zero_optimization": {"stage": 3}}')
    with_zero = tuning.run_fingerprint({**config, "deepspeed": str(zero)}, nproc=1)
    zero.write_text('{"zero_optimization": {"stage": 2}}')  # same path, other content
    assert tuning.run_fingerprint({**config, "deepspeed": str(zero)}, nproc=1) != with_zero
    # a changed training set is another run: its checkpoints are deleted, not resumed
    records = json.loads((dataset / "data.json").read_text())
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "dataset_info.json").write_text((dataset / "dataset_info.json").read_text())
    (edited / "data.json").write_text(json.dumps(records[:-1]))
    other = tuning.run_fingerprint({**config, "dataset_dir": str(edited)}, nproc=1)
    assert other["data"] != fingerprint["data"]
    resumed, notes = tuning.prepare_checkpoints(checkpoints, other)
    assert resumed is None and "another run configuration" in notes[0]
    assert not (checkpoints / "checkpoint-3").exists()


def test_save_settings_and_launch():
    config = tuning.llamafactory_config("/m", "/d", DATASET, "/out", "qwen2_vl", {}, save_steps=250)
    assert (config["save_strategy"], config["save_steps"], config["save_total_limit"]) == ("steps", 250, 1)
    assert config["save_only_model"] is False  # optimizer, scheduler and RNG states: resumable
    assert "overwrite_output_dir" not in config
    assert tuning.launch_environment(8, deepspeed=True) == {
        "FORCE_TORCHRUN": "1", "NNODES": "1", "NODE_RANK": "0", "NPROC_PER_NODE": "8"}
    assert tuning.launch_environment(8, deepspeed=False)["NPROC_PER_NODE"] == "8"
    assert tuning.launch_environment(1, deepspeed=False) == {"NPROC_PER_NODE": "1"}
    assert tuning.launch_environment(0, deepspeed=True)["FORCE_TORCHRUN"] == "1"  # DeepSpeed needs torchrun
    assert tuning.launch_environment(0, deepspeed=False) == {}
    with pytest.raises(ValueError, match="save_steps must be 0"):
        tuning.llamafactory_config("/m", "/d", DATASET, "/out", "qwen2_vl", {}, save_steps=-1)


def test_missing_gpus_are_named(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(RuntimeError, match="sft.gpus is 8 but this job sees 2 GPU"):
        tuning.check_visible_gpus(8)
    tuning.check_visible_gpus(2)


def test_deepspeed_without_the_package_is_named(monkeypatch):
    import importlib.util as util

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "deepspeed" else real(name, *a))
    with pytest.raises(RuntimeError, match="deepspeed is not installed.*or set sft.deepspeed: null"):
        tuning.check_deepspeed_installed({"deepspeed": "/c/zero3.json"})
    tuning.check_deepspeed_installed({})  # no DeepSpeed file: nothing to install


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"), ("{not json", "is not JSON"), ('{"bf16": {"enabled": true}}', "zero_optimization.stage"),
])
def test_bad_deepspeed_config_names_the_key(tmp_path, content, message):
    path = tmp_path / "ds.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises((FileNotFoundError, ValueError), match=f"sft.deepspeed.*{message}"):
        tuning.llamafactory_config("/m", "/d", DATASET, "/out", "qwen2_vl", {}, deepspeed=path)


# What LLaMA-Factory's parser makes of a shipped DeepSpeed file with the paper's sft settings (bf16,
# batch 1 x 8 accumulation), in a child process: the parser starts torch.distributed (one rank, as
# torchrun would) and sets process-wide DeepSpeed state. Then DeepSpeed's own validation of the
# config with every "auto" filled in (those that depend on the model's hidden size as transformers
# would fill them for Qwen2.5-VL-7B's 3584).
PARSE = """
import json, sys
import yaml
from llamafactory.hparams import get_train_args
from transformers.integrations import is_deepspeed_zero3_enabled
from deepspeed.runtime.config import DeepSpeedConfig
_, _, training_args, _, _ = get_train_args(yaml.safe_load(open(sys.argv[1])))
ds = training_args.hf_deepspeed_config.config
hidden = 3584
fill = {"reduce_bucket_size": hidden * hidden, "stage3_prefetch_bucket_size": int(0.9 * hidden * hidden),
        "stage3_param_persistence_threshold": 10 * hidden}
zero = ds["zero_optimization"]
for key, value in fill.items():
    if zero.get(key) == "auto":
        zero[key] = value
checked = DeepSpeedConfig(json.loads(json.dumps(ds)))
print(json.dumps({"zero3": is_deepspeed_zero3_enabled(), "stage": checked.zero_optimization_stage,
                  "bf16": checked.bfloat16_config.enabled, "micro": checked.train_micro_batch_size_per_gpu,
                  "accumulation": checked.gradient_accumulation_steps, "clipping": checked.gradient_clipping,
                  "gather_on_save": checked.zero_config.gather_16bit_weights_on_model_save,
                  "parallel": str(training_args.parallel_mode)}))
"""


@needs_deepspeed
@pytest.mark.parametrize("name, stage", [("zero3.json", 3), ("zero2.json", 2)])
def test_llamafactory_accepts_the_shipped_deepspeed_configs(tmp_path, tiny_model, dataset, name, stage):
    paper = yaml.safe_load((REPO / "config/paper.yaml").read_text())["sft"]
    assert (REPO / paper["deepspeed"]).is_file()
    hyper = {**paper["hyper"], "max_steps": 10}
    template = sft.load_template(REPO / "config/llamafactory_sft.yaml")
    config = sft.train_config(template, tiny_model, dataset, DATASET, tmp_path / "out", "qwen2_vl", hyper, seed=0,
                              save_steps=paper["save_steps"], deepspeed=REPO / "config/deepspeed" / name)
    assert config["deepspeed"] == str(REPO / "config/deepspeed" / name) and config["bf16"] is True
    # transformers refuses bf16 without a GPU unless told it is on CPU on purpose
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({**config, "use_cpu": True}))
    env = {**os.environ, "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "DISABLE_VERSION_CHECK": "1",
           "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", PARSE, str(tmp_path / "train.yaml")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["stage"] == stage and parsed["zero3"] is (stage == 3)
    assert parsed["bf16"] is True  # "auto" follows the run's bf16
    assert (parsed["micro"], parsed["accumulation"]) == (1, paper["hyper"]["gradient_accumulation_steps"])
    assert parsed["clipping"] == 1.0 and parsed["parallel"].endswith("DISTRIBUTED")
    if stage == 3:
        assert parsed["gather_on_save"] is True  # the final model is saved whole, not as shards


def _free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@needs_deepspeed
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("TIS_SLOW_TESTS") != "1", reason="ZeRO-3 tuning twice (~1-2 min); TIS_SLOW_TESTS=1")
def test_deepspeed_zero3_run_resumes(tmp_path, tiny_model, dataset):
    """ZeRO-3 through LLaMA-Factory's torchrun launch (one CPU rank), stopped and rerun."""
    checkpoints, output = tmp_path / "checkpoints", tmp_path / "model"
    config = _config(tiny_model, dataset, output, deepspeed=REPO / "config/deepspeed/zero3.json")
    log = _run_and_kill_after_first_checkpoint(config, tmp_path, checkpoints, timeout=600)
    assert "Initializing 1 distributed tasks" in log  # LLaMA-Factory's torchrun launch
    reached = _check_interrupted(checkpoints, output)
    assert (checkpoints / f"checkpoint-{reached}" / f"global_step{reached}").is_dir()  # DeepSpeed's own states

    summary = _run(config, tmp_path, checkpoints)
    log = (tmp_path / "train.log").read_text()
    assert "DeepSpeed ZeRO3 detected" in log
    assert re.search(rf"Resuming training from checkpoint with epoch \d+ and global step {reached}\n", log)
    assert summary["resumed_from_step"] == reached and summary["deepspeed"].endswith("zero3.json")
    assert _steps(output) == MAX_STEPS == summary["global_step"]
    assert (output / "model.safetensors").is_file() and not checkpoints.exists()


def test_sft_job_asks_slurm_for_one_node_with_cpus_for_every_rank(tmp_path):
    """The paper's sft job as planned by Snakemake, turned into sbatch options by the SLURM executor
    plugin's own functions (requirements/constraints.txt pins it): 8 GPUs of one node, 4 CPUs per
    rank, the DeepSpeed file a tracked input, the checkpoint folder a parameter (not an output)."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    bin_dir = Path(sys.executable).parent
    target = "resources/tuned_models/r1-onevision-7b+vlguard"
    command = [str(bin_dir / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "-n", "--cores", "64",
               "--configfile", str(REPO / "config/paper.yaml"), "--directory", str(tmp_path), target]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    block = re.search(r"^rule sft:\n((?:\s+\w+: .*\n)+)", done.stdout, re.M).group(1)
    field = dict(re.findall(r"^\s+(\w+): (.*)$", block, re.M))
    assert str(REPO / "config/deepspeed/zero3.json") in field["input"].split(", ")
    assert int(field["threads"]) == 4 * 8
    resources = dict(item.split("=", 1) for item in field["resources"].split(", "))
    assert (resources["gpu"], resources["nodes"]) == ("8", "1")

    class Resources(dict):
        __getattr__ = dict.get

    job = SimpleNamespace(threads=int(field["threads"]), resources=Resources(
        gpu=int(resources["gpu"]), nodes=int(resources["nodes"]), mem_mb=int(resources["mem_mb"]),
        runtime=int(resources["runtime"])))
    params = {"run_uuid": "sft", "slurm_logfile": "sft.log", "comment_str": "sft", "account": "", "partition": "",
              "workdir": str(tmp_path)}
    sbatch = get_submit_command(job, params) + set_gres_string(job)
    for option in ("--nodes=1", "--cpus-per-task=32", "--gpus=8", f"--mem {resources['mem_mb']}"):
        assert option in sbatch, sbatch
