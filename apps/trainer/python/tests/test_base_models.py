import json
import math
import os
import struct

import numpy as np
import pytest
import torch

from conftest import tiny_job
from hf_checkpoints import classifier_names, write_checkpoint
from mlops_trainer.base import load_base
from mlops_trainer.checkpoint import read_checkpoint
from mlops_trainer.export import save_hf
from mlops_trainer.job import TrainingError
from mlops_trainer.safetensors import SafetensorsError, read_safetensors, write_safetensors
from mlops_trainer.shards import Split
from mlops_trainer.train import relabel
from test_train import run_job

TASK = ["negative", "positive"]


def test_safetensors_round_trip_keeps_dtypes_shapes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"f32": rng.normal(size=(3, 4)).astype(np.float32), "f16": rng.normal(size=(5,)).astype(np.float16),
               "i64": np.arange(6, dtype=np.int64).reshape(2, 3), "scalar": np.array(2.5, dtype=np.float32),
               "empty": np.zeros((0, 4), dtype=np.float32)}
    path = str(tmp_path / "model.safetensors")
    write_safetensors(path, tensors, metadata={"format": "pt"})
    (header_length,) = struct.unpack("<Q", open(path, "rb").read(8))
    header = json.loads(open(path, "rb").read(8 + header_length)[8:])
    assert header["__metadata__"] == {"format": "pt"} and header["f16"]["dtype"] == "F16"
    assert (8 + header_length) % 8 == 0
    back = read_safetensors(path)
    assert set(back) == set(tensors)
    for name, array in tensors.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape
        np.testing.assert_array_equal(back[name], array)


def test_bfloat16_is_widened_to_float32(tmp_path):
    exact = np.array([1.0, -2.5, 0.15625, 2.0 ** 127, -0.0], dtype=np.float32)  # representable in BF16
    rounded = np.array([1.00390625 + 1e-4, np.pi], dtype=np.float32)
    path = str(tmp_path / "bf16.safetensors")
    write_safetensors(path, {"exact": exact, "rounded": rounded}, bfloat16={"exact", "rounded"})
    back = read_safetensors(path)
    assert back["exact"].dtype == np.float32
    np.testing.assert_array_equal(back["exact"], exact)
    np.testing.assert_allclose(back["rounded"], rounded, rtol=2 ** -8)
    assert back["rounded"][1] == np.float32(3.140625)  # pi to the nearest BF16


def test_a_truncated_or_corrupt_file_is_a_clear_error(tmp_path):
    path = str(tmp_path / "model.safetensors")
    write_safetensors(path, {"w": np.ones((64, 64), dtype=np.float32)})
    data = open(path, "rb").read()
    cases = {"cut.safetensors": (data[:-100], r"truncated: tensor 'w' needs bytes 0\.\.16384 of the data, the file holds 16284"),
             "short.safetensors": (data[:5], "too short for the header length"),
             "header.safetensors": (data[:8] + b"x" + data[9:], "corrupt header"),
             "huge.safetensors": (struct.pack("<Q", 10 ** 12) + data[8:], "header of 1000000000000 bytes")}
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(SafetensorsError, match=message):
            read_safetensors(str(tmp_path / name))
    folder = tmp_path / "base"
    write_checkpoint(str(folder), "bert", 60, 32, head=2, weights_format="safetensors")
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:-10])
    with pytest.raises(TrainingError, match="model.safetensors is truncated"):
        read_checkpoint(str(folder))


def test_a_sharded_checkpoint_is_read_whole_and_a_missing_shard_named(tmp_path):
    weights = write_checkpoint(str(tmp_path), "bert", 60, 32, head=2, weights_format="sharded")
    checkpoint = read_checkpoint(str(tmp_path))
    assert checkpoint.files == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert set(checkpoint.tensors) == set(weights)
    np.testing.assert_array_equal(checkpoint.tensors["classifier.weight"].numpy(), weights["classifier.weight"])
    os.remove(tmp_path / "model-00002-of-00002.safetensors")
    with pytest.raises(TrainingError, match="names model-00002-of-00002.safetensors, which is not in the base folder"):
        read_checkpoint(str(tmp_path))


@pytest.mark.parametrize("model_type,weights_format", [("bert", "bin"), ("roberta", "safetensors"), ("distilbert", "sharded")])
def test_a_full_checkpoint_loads_every_weight_and_saves_transformers_names(tmp_path, model_type, weights_format):
    positions = 34 if model_type == "roberta" else 32
    weights = write_checkpoint(str(tmp_path / "base"), model_type, 60, positions, head=2, labels=TASK,
                               weights_format=weights_format)
    base = load_base(str(tmp_path / "base"), TASK)
    assert (base.new, base.unused, base.labels) == ([], [], TASK)
    state = base.model.state_dict()
    for name, array in weights.items():
        np.testing.assert_array_equal(state[name].numpy(), array)
    save_hf(base.model, str(tmp_path / "out"))
    saved = torch.load(tmp_path / "out" / "pytorch_model.bin")
    assert set(saved) == set(classifier_names(model_type, 60, positions, 2))
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    original = json.loads((tmp_path / "base" / "config.json").read_text())
    expected_class = {"bert": "BertForSequenceClassification", "roberta": "RobertaForSequenceClassification",
                      "distilbert": "DistilBertForSequenceClassification"}[model_type]
    assert config["architectures"] == [expected_class] and config["id2label"] == {"0": "negative", "1": "positive"}
    # Every key transformers wrote stays, with its value (the shape keys above all).
    replaced = ("architectures", "id2label", "label2id")
    assert {k: v for k, v in config.items() if k not in replaced} == {
        **{k: v for k, v in original.items() if k not in replaced},
        "problem_type": "single_label_classification", "torch_dtype": "float32"}


def test_a_headless_bert_gets_a_new_head_and_says_so(tmp_path):
    write_checkpoint(str(tmp_path / "model"), "bert", 60, 32, head=None, headless_names="model")
    base = load_base(str(tmp_path / "model"), TASK)
    assert base.new == ["classifier.bias", "classifier.weight"] and base.unused == []
    assert base.head == "none in the checkpoint: a new one"

    write_checkpoint(str(tmp_path / "mlm"), "bert", 60, 32, head=None, headless_names="mlm")
    base = load_base(str(tmp_path / "mlm"), TASK)
    assert base.new == ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "classifier.bias", "classifier.weight"]
    assert base.unused == ["cls.predictions.bias", "cls.predictions.transform.dense.bias", "cls.predictions.transform.dense.weight"]

    write_checkpoint(str(tmp_path / "roberta"), "roberta", 60, 34, head=None)
    base = load_base(str(tmp_path / "roberta"), TASK)
    assert base.new == ["classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias", "classifier.out_proj.weight"]
    assert base.unused == ["lm_head.bias", "lm_head.dense.bias", "lm_head.dense.weight"]


def test_a_head_for_another_label_count_or_other_labels_is_replaced(tmp_path):
    write_checkpoint(str(tmp_path / "three"), "roberta", 60, 34, head=3)
    base = load_base(str(tmp_path / "three"), TASK)
    assert base.new == ["classifier.out_proj.bias", "classifier.out_proj.weight"]  # the dense layer fits and stays
    assert base.head == "for 3 labels: a new one for 2" and base.labels == TASK
    assert base.model.classifier.out_proj.weight.shape == (2, 32)

    write_checkpoint(str(tmp_path / "other"), "distilbert", 60, 32, head=2, labels=["spam", "ham"])
    base = load_base(str(tmp_path / "other"), TASK)
    assert base.new == ["classifier.bias", "classifier.weight"] and "are not the task's" in base.head


def test_a_matching_head_keeps_its_label_order_and_the_shards_follow_it(tmp_path):
    weights = write_checkpoint(str(tmp_path), "bert", 60, 32, head=2, labels=["positive", "negative"])
    base = load_base(str(tmp_path), TASK)
    assert base.new == [] and base.labels == ["positive", "negative"]
    np.testing.assert_array_equal(base.model.classifier.weight.detach().numpy(), weights["classifier.weight"])
    split = Split(ids=np.zeros((3, 4), np.int32), lengths=np.ones(3, np.int32), labels=np.array([0, 1, 1], np.int32))
    relabel(split, TASK, base.labels)
    assert split.labels.tolist() == [1, 0, 0]


@pytest.mark.parametrize("model_type", ["bert", "roberta"])
def test_padding_does_not_change_logits(tmp_path, model_type):
    write_checkpoint(str(tmp_path), model_type, 60, 34, head=2, labels=TASK)
    model = load_base(str(tmp_path), TASK).model.eval()
    pad = model.config.pad_token_id
    ids = torch.tensor([[5, 7, 8, 9, 6]])
    padded = torch.tensor([[5, 7, 8, 9, 6, pad, pad, pad]])
    with torch.no_grad():
        alone = model(ids, torch.ones_like(ids))
        batched = model(padded, (padded != pad).long())
    assert torch.allclose(alone, batched, atol=1e-5)


def test_roberta_positions_start_after_the_padding_index(tmp_path):
    write_checkpoint(str(tmp_path), "roberta", 60, 34, head=2, labels=TASK)
    model = load_base(str(tmp_path), TASK).model.eval()
    assert model.config.usable_positions == 32
    table = model.roberta.embeddings.position_embeddings.weight
    with torch.no_grad():
        table[:2] = 1e3  # rows 0 and 1 (the padding index) must never be read for a real token
        logits = model(torch.tensor([[5, 7, 8]]), torch.ones(1, 3, dtype=torch.long))
    assert torch.isfinite(logits).all() and logits.abs().max() < 100


def test_base_folders_that_cannot_be_used_are_named(tmp_path):
    write_checkpoint(str(tmp_path), "bert", 60, 32, head=2)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(TrainingError, match="base model_type is 'gpt2'; supported: distilbert, bert, roberta"):
        load_base(str(tmp_path), TASK)
    (tmp_path / "config.json").write_text(json.dumps({**config, "hidden_size": 48}))
    with pytest.raises(TrainingError, match=r"does not fit its config.json: .*bert.embeddings.word_embeddings.weight \(60, 32\) for \(60, 48\)"):
        load_base(str(tmp_path), TASK)
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "layer_norm_eps"}))
    with pytest.raises(TrainingError, match="base config.json lacks layer_norm_eps"):
        load_base(str(tmp_path), TASK)
    (tmp_path / "config.json").write_text(json.dumps(config))
    os.remove(tmp_path / "pytorch_model.bin")
    with pytest.raises(TrainingError, match="has no weights: looked for model.safetensors"):
        load_base(str(tmp_path), TASK)


def test_fine_tunes_a_headless_bert_from_safetensors_and_exports_token_type_ids(work, tmp_path):
    write_checkpoint(str(tmp_path / "base"), "bert", 50, 24, head=None, weights_format="safetensors")
    out = tmp_path / "tuned"
    code, events, stderr = run_job(tmp_path, tiny_job(work, out, base=tmp_path / "base", epochs=3, lr=3e-3))
    assert code == 0, stderr
    base_event = next(e for e in events if e["event"] == "base")
    assert base_event == {**base_event, "model_type": "bert", "files": ["model.safetensors"],
                          "new_weights": ["classifier.bias", "classifier.weight"], "unused_weights": [], "labels": TASK}
    assert events[-1]["validation_accuracy"] > 0.9
    assert b"token_type_ids" in (out / "onnx" / "model.onnx").read_bytes()
    assert json.loads((out / "config.json").read_text())["architectures"] == ["BertForSequenceClassification"]


def test_old_conversions_load_gamma_beta_buffers_and_sharded_bins(tmp_path):
    """Checkpoints converted from the original TensorFlow BERT name LayerNorms gamma/beta and may save
    position_ids; big ones are sharded pytorch_model-*.bin files under an index."""
    weights = write_checkpoint(str(tmp_path), "bert", 60, 32, head=2, labels=TASK)
    os.remove(tmp_path / "pytorch_model.bin")
    old = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): torch.from_numpy(v)
           for k, v in weights.items()}
    old["bert.embeddings.position_ids"] = torch.arange(32)[None, :]
    names = sorted(old)
    shards = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
    for file, part in shards.items():
        torch.save({k: old[k] for k in part}, tmp_path / file)
    (tmp_path / "pytorch_model.bin.index.json").write_text(
        json.dumps({"weight_map": {k: file for file, part in shards.items() for k in part}}))
    base = load_base(str(tmp_path), TASK)
    assert (base.new, base.unused, base.files) == ([], [], sorted(shards))
    np.testing.assert_array_equal(base.model.bert.embeddings.LayerNorm.weight.detach().numpy(),
                                  weights["bert.embeddings.LayerNorm.weight"])


def test_a_bfloat16_checkpoint_trains_in_float32(tmp_path):
    weights = write_checkpoint(str(tmp_path), "roberta", 60, 34, head=2, labels=TASK, weights_format="safetensors")
    write_safetensors(str(tmp_path / "model.safetensors"), weights, bfloat16=set(weights))
    base = load_base(str(tmp_path), TASK)
    query = base.model.roberta.encoder.layer[0].attention.self.query.weight
    assert query.dtype == torch.float32 and base.new == []
    np.testing.assert_allclose(query.detach().numpy(), weights["roberta.encoder.layer.0.attention.self.query.weight"],
                               rtol=2 ** -8, atol=1e-30)


def _reference_logits(model_type: str, w: dict, ids: np.ndarray, mask: np.ndarray, eps: float, heads: int) -> np.ndarray:
    """transformers' forward pass (eval mode) written out in numpy from the checkpoint's own tensors,
    to hold the torch modules to the same wiring: post-LayerNorm residuals, pooler or head, positions."""
    erf = np.vectorize(math.erf)

    def gelu(x):
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))

    def linear(x, name):
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def attention(q, k, v):
        bs, seq, dim = q.shape
        split = lambda t: t.reshape(bs, seq, heads, dim // heads).transpose(0, 2, 1, 3)  # noqa: E731
        scores = split(q) @ split(k).transpose(0, 1, 3, 2) / math.sqrt(dim // heads)
        scores = scores + np.where(mask[:, None, None, :] == 1, 0.0, -1e9)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        return (probs @ split(v)).transpose(0, 2, 1, 3).reshape(bs, seq, dim)

    if model_type == "distilbert":
        x = norm(w["distilbert.embeddings.word_embeddings.weight"][ids]
                 + w["distilbert.embeddings.position_embeddings.weight"][np.arange(ids.shape[1])], "distilbert.embeddings.LayerNorm")
        for i in range(2):
            p = f"distilbert.transformer.layer.{i}"
            a = linear(attention(*(linear(x, f"{p}.attention.{n}") for n in ("q_lin", "k_lin", "v_lin"))), f"{p}.attention.out_lin")
            x = norm(a + x, f"{p}.sa_layer_norm")
            x = norm(linear(gelu(linear(x, f"{p}.ffn.lin1")), f"{p}.ffn.lin2") + x, f"{p}.output_layer_norm")
        return linear(np.maximum(linear(x[:, 0], "pre_classifier"), 0.0), "classifier")
    prefix, pad = model_type, (1 if model_type == "roberta" else 0)
    if model_type == "roberta":
        real = (ids != pad).astype(np.int64)
        positions = np.cumsum(real, axis=1) * real + pad
    else:
        positions = np.broadcast_to(np.arange(ids.shape[1]), ids.shape)
    e = f"{prefix}.embeddings"
    x = norm(w[f"{e}.word_embeddings.weight"][ids] + w[f"{e}.position_embeddings.weight"][positions]
             + w[f"{e}.token_type_embeddings.weight"][0], f"{e}.LayerNorm")
    for i in range(2):
        p = f"{prefix}.encoder.layer.{i}"
        context = attention(*(linear(x, f"{p}.attention.self.{n}") for n in ("query", "key", "value")))
        x = norm(linear(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        x = norm(linear(gelu(linear(x, f"{p}.intermediate.dense")), f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    if model_type == "roberta":
        return linear(np.tanh(linear(x[:, 0], "classifier.dense")), "classifier.out_proj")
    return linear(np.tanh(linear(x[:, 0], "bert.pooler.dense")), "classifier")


@pytest.mark.parametrize("model_type", ["bert", "roberta", "distilbert"])
def test_logits_match_transformers_forward_pass_written_out(tmp_path, model_type):
    weights = write_checkpoint(str(tmp_path), model_type, 60, 34, head=2, labels=TASK, seed=3)
    # Weights of a trained model's scale (logits of order 1), and LayerNorms away from identity.
    rng = np.random.default_rng(4)
    for name in weights:
        if "LayerNorm" in name or "layer_norm" in name:
            weights[name] = weights[name] + rng.normal(0, 0.1, size=weights[name].shape).astype(np.float32)
        else:
            weights[name] = weights[name] * 10
    os.remove(tmp_path / "pytorch_model.bin")
    write_safetensors(str(tmp_path / "model.safetensors"), weights)
    model = load_base(str(tmp_path), TASK).model.eval()
    pad = model.config.pad_token_id
    ids = np.array([[4, 9, 17, 23, 5, pad, pad], [4, 30, 31, 32, 33, 34, 5]])
    mask = (ids != pad).astype(np.int64)
    with torch.no_grad():
        logits = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    eps = model.config.layer_norm_eps if model_type != "distilbert" else 1e-12
    expected = _reference_logits(model_type, {k: v.astype(np.float64) for k, v in weights.items()}, ids, mask, eps, heads=2)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
