"""Load-time graph rewrites (verification.runtime.graph_rewrite) keep every model's function.

Synthetic graphs check the pattern matching in isolation (a match is rewritten, a near miss is
not); the real models check the rewrites the registry applies (the golden records still hold,
either input layout gives the same outputs).
"""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from verification.runtime import ModelRegistry, OnnxModel, ThreadBudget, check_golden
from verification.runtime.graph_rewrite import (
    fuse_layer_norms,
    pad_channels_for_nchwc,
    take_channels_first,
)
from verification.runtime.providers import limit_opencv_threads, session_options


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), session_options(ThreadBudget()),
                                providers=["CPUExecutionProvider"])


def _layer_norm_graph(perm: tuple[int, ...] = (0, 2, 3, 1)) -> onnx.ModelProto:
    """tf2onnx's form of a Keras LayerNormalization (no centre) over channels of NCHW x."""
    rng = np.random.default_rng(3)
    gamma = rng.uniform(0.5, 1.5, 8).astype(np.float32)
    init = [numpy_helper.from_array(gamma, "gamma"),
            numpy_helper.from_array(np.array([[[[1e-3]]]], np.float32), "eps"),
            numpy_helper.from_array(np.array([1, 1, 5, 1], np.int64), "shape")]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Neg", ["mean"], ["neg"]),
        helper.make_node("Reshape", ["neg", "shape"], ["neg_r"]),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "centred"], ["square"]),
        helper.make_node("ReduceMean", ["square"], ["var"], axes=[1], keepdims=1),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Reciprocal", ["std"], ["inv"]),
        helper.make_node("Reshape", ["inv", "shape"], ["inv_r"]),
        helper.make_node("Mul", ["inv_r", "gamma"], ["factor"]),
        helper.make_node("Mul", ["neg_r", "factor"], ["shift"]),
        helper.make_node("Transpose", ["x"], ["x_t"], perm=list(perm)),
        helper.make_node("Mul", ["x_t", "factor"], ["scaled"]),
        helper.make_node("Add", ["scaled", "shift"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "layer_norm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 1, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_decomposed_layer_norm_becomes_one_node_with_the_same_outputs() -> None:
    model = _layer_norm_graph()
    x = np.random.default_rng(0).normal(0, 3, (1, 8, 1, 5)).astype(np.float32)
    want = _session(model).run(None, {"x": x})[0]
    assert fuse_layer_norms(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Transpose", "LayerNormalization"]
    got = _session(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_near_miss_is_left_alone() -> None:
    model = _layer_norm_graph(perm=(0, 3, 2, 1))  # normalised over another layout
    before = [n.op_type for n in model.graph.node]
    assert fuse_layer_norms(model) == 0
    assert [n.op_type for n in model.graph.node] == before


def _nhwc_conv_graph() -> onnx.ModelProto:
    weights = np.random.default_rng(1).normal(size=(4, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
         helper.make_node("Conv", ["nchw", "w"], ["y"], kernel_shape=[3, 3])],
        "nhwc_conv", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 8, 6, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weights, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_input_transpose_is_dropped_and_either_layout_is_accepted(registry) -> None:
    model = _nhwc_conv_graph()
    x = np.random.default_rng(2).random((1, 8, 6, 3), dtype=np.float32)
    want = _session(model).run(None, {"image": x})[0]
    changed = take_channels_first(model)
    assert changed == {"image": (1, 8, 6, 3)}
    assert [n.op_type for n in model.graph.node] == ["Conv"]
    wrapped = OnnxModel(registry.spec("face_mesh"), _session(model), changed)
    assert wrapped.channels_first_input("image")
    assert wrapped.input_shapes() == {"image": [1, 8, 6, 3]}  # the file's layout
    from_nhwc = wrapped.run({"image": x})[wrapped.output_names[0]]
    from_nchw = wrapped.run({"image": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})
    np.testing.assert_allclose(from_nhwc, want, atol=1e-5)
    np.testing.assert_array_equal(from_nchw[wrapped.output_names[0]], from_nhwc)


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest(provider="cpu", warm_up=False)


@pytest.mark.parametrize("name", ["face_blendshapes", "face_mesh", "face_detector"])
def test_rewritten_face_models_still_match_their_golden_records(registry, name) -> None:
    check = check_golden(registry.load(name))
    assert check.ok, check.detail


def test_mesh_adapter_on_the_rewritten_model_gives_the_same_landmarks(registry) -> None:
    from verification.face.mesh import FaceMesh, FaceRoi

    model = registry.load("face_mesh")
    assert model.channels_first_input(model.input_names[0])
    spec = registry.spec("face_mesh")
    plain = OnnxModel(spec, ort.InferenceSession(str(spec.file), session_options(ThreadBudget()),
                                                 providers=["CPUExecutionProvider"]))
    image = np.random.default_rng(4).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    image[60:180, 100:220] = (200, 160, 140)
    roi = FaceRoi(160.0, 120.0, 150.0, 150.0, 0.2, (320, 240))
    fast, reference = FaceMesh(model).landmarks(image, roi), FaceMesh(plain).landmarks(image, roi)
    # Channels-first input: the same tensor; padded narrow chains (AVX-512 only): the same
    # sums in another order (~1e-4 px here).
    np.testing.assert_allclose(fast.points, reference.points, atol=2e-3)
    assert fast.presence == pytest.approx(reference.presence, abs=1e-5)


def test_opencv_follows_the_thread_budget(monkeypatch) -> None:
    before = cv2.getNumThreads()
    try:
        monkeypatch.delenv("OPENCV_FOR_THREADS_NUM", raising=False)
        assert limit_opencv_threads(ThreadBudget(workers=2, intra_op_threads=1)) == 1
        assert cv2.getNumThreads() == 1
        cv2.setNumThreads(2)
        monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "2")  # the operator's choice wins
        assert limit_opencv_threads(ThreadBudget(workers=2, intra_op_threads=1)) == 2
    finally:
        cv2.setNumThreads(before)


def _narrow_chain_graph(in_channels: int) -> onnx.ModelProto:
    """conv (in -> 8) -> Relu -> depthwise 3x3 (8) -> conv (8 -> 16), the mesh's block shape."""
    rng = np.random.default_rng(5)
    init = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
            for name, shape in (("w1", (8, in_channels, 1, 1)), ("b1", (8,)),
                                ("wd", (8, 1, 3, 3)), ("bd", (8,)), ("w2", (16, 8, 1, 1)))]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["narrow"], kernel_shape=[1, 1]),
         helper.make_node("Relu", ["narrow"], ["active"]),
         helper.make_node("Conv", ["active", "wd", "bd"], ["spread"], kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1], group=8),
         helper.make_node("Conv", ["spread", "w2"], ["y"], kernel_shape=[1, 1])],
        "narrow_chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_channels, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_narrow_chain_is_padded_to_the_block_with_the_same_outputs() -> None:
    model = _narrow_chain_graph(16)
    x = np.random.default_rng(6).normal(size=(1, 16, 12, 12)).astype(np.float32)
    want = _session(model).run(None, {"x": x})[0]
    assert pad_channels_for_nchwc(model, block=16) == 1
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    shapes = [inits[n.input[1]].shape for n in model.graph.node if n.op_type == "Conv"]
    assert shapes == [(16, 16, 1, 1), (16, 1, 3, 3), (16, 16, 1, 1)]
    got = _session(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_chains_from_narrow_tensors_and_other_cpus_are_left_alone() -> None:
    model = _narrow_chain_graph(8)  # padded, its first convolution would still read 8 channels
    assert pad_channels_for_nchwc(model, block=16) == 0
    assert pad_channels_for_nchwc(_narrow_chain_graph(16), block=0) == 0  # no AVX-512
