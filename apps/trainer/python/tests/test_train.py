import json
import os
import subprocess
import sys

import numpy as np
import torch

import dataclasses

import pytest

from conftest import tiny_config, tiny_job
from mlops_trainer.job import Job, ModelParams, TrainingError, TrainParams, load_job
from mlops_trainer.base import ARCHITECTURES, load_base_weights
from mlops_trainer.bert import BertConfig
from mlops_trainer.model import DistilBertConfig, DistilBertForSequenceClassification
from mlops_trainer.shards import Manifest, length_grouped_batches
from mlops_trainer.train import fresh_config

PYTHONPATH = os.path.join(os.path.dirname(__file__), "..")

HF_NAMES = {
    "distilbert.embeddings.word_embeddings.weight", "distilbert.embeddings.position_embeddings.weight",
    "distilbert.embeddings.LayerNorm.weight", "distilbert.transformer.layer.0.attention.q_lin.weight",
    "distilbert.transformer.layer.0.attention.out_lin.bias", "distilbert.transformer.layer.0.sa_layer_norm.weight",
    "distilbert.transformer.layer.0.ffn.lin1.weight", "distilbert.transformer.layer.0.ffn.lin2.bias",
    "distilbert.transformer.layer.0.output_layer_norm.bias", "pre_classifier.weight", "classifier.bias",
}


def run_job(tmp_path, job):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    proc = subprocess.run([sys.executable, "-m", "mlops_trainer", "--job", str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": PYTHONPATH, "OMP_NUM_THREADS": "1"}, timeout=300)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, events, proc.stderr


def test_trains_exports_and_reports_progress(work, tmp_path):
    out = tmp_path / "model"
    code, events, stderr = run_job(tmp_path, tiny_job(work, out))
    assert code == 0, stderr
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "step" in kinds and "eval" in kinds
    done = events[-1]
    assert done["validation_accuracy"] > 0.9
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "distilbert" and config["id2label"] == {"0": "negative", "1": "positive"}
    assert config["max_position_embeddings"] == 24 and config["vocab_size"] == 50
    assert (out / "onnx" / "model.onnx").stat().st_size > 10_000
    state = torch.load(out / "pytorch_model.bin")
    assert HF_NAMES <= set(state)
    parity = json.loads((work / "parity.json").read_text())
    assert sum(len(b["logits"]) for b in parity["batches"]) == 20


def test_fine_tunes_from_a_base_checkpoint(work, tmp_path):
    base = tmp_path / "base"
    assert run_job(tmp_path, tiny_job(work, base, epochs=1))[0] == 0
    job = tiny_job(work, tmp_path / "tuned", base=base, epochs=1, lr=1e-3)
    code, events, stderr = run_job(tmp_path, job)
    assert code == 0, stderr
    base_event = next(e for e in events if e["event"] == "base")
    assert base_event["new_weights"] == [] and base_event["head"] == "kept, with its label order"
    assert events[-1]["validation_accuracy"] > 0.9


def test_nan_loss_is_a_clear_error_and_exports_nothing(work, tmp_path):
    out = tmp_path / "model"
    code, events, _ = run_job(tmp_path, tiny_job(work, out, lr=1e30, warmup_ratio=0.0, max_grad_norm=1e30))
    assert code == 3
    assert events[-1]["event"] == "error" and "loss became" in events[-1]["message"]
    assert not out.exists()


def test_corrupt_shard_is_a_clear_error(work, tmp_path):
    (work / "train-00000.ids.i32").write_bytes(b"\x00" * 10)
    code, events, _ = run_job(tmp_path, tiny_job(work, tmp_path / "model"))
    assert code == 1
    assert "manifest says" in events[-1]["message"]


def test_base_weights_load_with_or_without_prefix_and_head():
    config = tiny_config()
    source = DistilBertForSequenceClassification(config)
    encoder_only = {k[len("distilbert."):]: v for k, v in source.state_dict().items() if k.startswith("distilbert.")}
    target = DistilBertForSequenceClassification(config)
    fresh, unused = load_base_weights(target, ARCHITECTURES["distilbert"], encoder_only, keep_output_layer=True)
    assert unused == []
    assert set(fresh) == {"pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"}
    assert torch.equal(target.distilbert.embeddings.word_embeddings.weight, source.distilbert.embeddings.word_embeddings.weight)


def test_padding_does_not_change_logits():
    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(tiny_config(n_layers=2, max_position_embeddings=12)).eval()
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    padded = torch.tensor([[2, 7, 8, 9, 3, 0, 0, 0]])
    with torch.no_grad():
        a = model(ids, torch.ones_like(ids))
        b = model(padded, (padded != 0).long())
    assert torch.allclose(a, b, atol=1e-5)


def test_length_grouped_batches_cover_every_row_once_and_group_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=1000)
    batches = length_grouped_batches(lengths, 10, np.random.default_rng(1), pool_batches=10)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 60  # random batches of 10 would spread ~400


def test_a_missing_or_unknown_job_key_is_an_error_naming_it(work, tmp_path):
    job = tiny_job(work, tmp_path / "model")
    del job["train"]["weight_decay"]
    job["train"]["warmup"] = 0.1
    code, events, _ = run_job(tmp_path, job)
    assert code == 3
    assert events[-1]["message"] == "job.json: train: missing weight_decay; unknown warmup"

    no_dropout = tiny_job(work, tmp_path / "model")
    del no_dropout["model"]["dropout"]
    with pytest.raises(TrainingError, match="model: missing dropout"):
        load_job(no_dropout)
    with pytest.raises(TrainingError, match="the job: missing base"):
        load_job({k: v for k, v in tiny_job(work, tmp_path).items() if k != "base"})
    with pytest.raises(TrainingError, match=r"train.epochs must be an integer, got 2.5"):
        load_job(tiny_job(work, tmp_path, epochs=2.5))
    fine_tune_with_shape = {**tiny_job(work, tmp_path, base=tmp_path), "model": tiny_job(work, tmp_path)["model"]}
    with pytest.raises(TrainingError, match="model must be null when fine-tuning"):
        load_job(fine_tune_with_shape)


def test_python_keeps_no_training_defaults():
    # The TypeScript table (apps/trainer/src/hyperparameters.ts) is the one source: a default here would be a second.
    for cls in (Job, TrainParams, ModelParams):
        defaulted = [f.name for f in dataclasses.fields(cls)
                     if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
        assert defaulted == [], f"{cls.__name__} has defaults for {defaulted}"
    for cls in (DistilBertConfig, BertConfig):
        defaulted = [f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING]
        assert defaulted == [], f"{cls.__name__} has defaults for {defaulted}"


def test_a_fresh_model_takes_every_value_from_the_job_and_the_shards():
    model = ModelParams(dim=24, n_layers=3, n_heads=3, hidden_dim=48, dropout=0.25, attention_dropout=0.15,
                        classifier_dropout=0.35, initializer_range=0.05)
    manifest = Manifest(max_length=40, vocab_size=77, pad_id=1, labels=["x", "y", "z"], train=None, validation=None)
    config = dataclasses.asdict(fresh_config(model, manifest, ["a", "b", "c"]))
    assert config == {"vocab_size": 77, "dim": 24, "n_layers": 3, "n_heads": 3, "hidden_dim": 48, "activation": "gelu",
                      "dropout": 0.25, "attention_dropout": 0.15, "seq_classif_dropout": 0.35,
                      "max_position_embeddings": 40, "initializer_range": 0.05, "pad_token_id": 1,
                      "labels": ["a", "b", "c"], "inherited": {}}


def test_a_base_config_missing_a_field_is_refused_not_filled_in():
    hf = tiny_config().to_hf()
    del hf["seq_classif_dropout"]
    with pytest.raises(ValueError, match="base config.json lacks seq_classif_dropout"):
        DistilBertConfig.from_hf(hf, labels=["negative", "positive"])
