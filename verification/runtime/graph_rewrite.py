"""Load-time graph rewrites: exact-in-real-arithmetic simplifications onnxruntime does not find.

Why: tf2onnx writes a Keras ``LayerNormalization`` (no centre offset) as ~14 elementwise nodes
(two ReduceMeans, Sub, Mul, Add, Sqrt, Reciprocal, Neg, Reshapes, Muls, Add) around a channel
transpose. onnxruntime's own LayerNorm fusion looks for the ``Pow`` / ``Div`` form and misses
this one, so a small model such as MediaPipe's blendshape MLP-Mixer (tensors of 97 x 64
values) pays per-node dispatch for every piece: ~0.9 ms a call, about half of it overhead. One
``LayerNormalization`` node (opset 17) computes the same function; fusing at load time keeps
the model file, its sha256 in the manifest and its golden record untouched (the golden check
still runs on the rewritten graph). Outputs move by float rounding only (~1e-6).

The matched pattern (``X`` NCHW, normalised over the channel axis 1, ``T`` its NHWC transpose)::

    mean = ReduceMean(X, axes=[1]);  var = ReduceMean(Sq(Sub(X, mean)), axes=[1])
    M = Mul(Reshape?(Reciprocal(Sqrt(Add(var, eps)))), gamma)
    Y = Add(Mul(Transpose(X, [0, 2, 3, 1]), M), Mul(Reshape?(Neg(mean)), M))
      = LayerNormalization(T, gamma, 0, axis=-1, epsilon=eps)

Anything that differs (other axes, a centre offset, a non-constant gamma) is left alone.

Second rewrite: a TFLite image model converted by tf2onnx takes NHWC and begins with a
``Transpose`` to NCHW, which onnxruntime runs as a generic strided copy (~0.25 ms of the face
mesh's ~5 ms for a 256x256x3 input). When a graph input feeds only such a Transpose, the input
is declared NCHW instead and the Transpose dropped (:func:`take_channels_first`); an adapter
that builds its tensor anyway (the mesh crop is converted from uint8 plane by plane) writes it
channels-first for free. :class:`~verification.runtime.model.OnnxModel` still accepts the file's
NHWC layout for such an input (golden records, other callers) and transposes it itself.

Third rewrite, for onnxruntime's CPU provider on AVX-512 machines only: there its NCHWc
convolutions work in blocks of 16 channels, and a convolution whose input has fewer channels
falls back to a plain NCHW kernel with layout reorders around it. The face mesh's first
blocks narrow to 8 channels at 128x128 (1x1 conv -> PReLU -> 3x3 depthwise -> 1x1 conv), and
those four fallbacks cost ~0.6 ms of its ~5.4 ms. :func:`pad_channels_for_nchwc` widens each
such closed chain (when it starts from a blocked tensor) to 16 channels with zero
weights (zero filters, zero bias, zero input columns in the convolution that ends the
chain), which leaves every real channel's value as it was; only the summation order inside
the kernels changes (~3e-5 px on the landmarks).
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_NHWC = [0, 2, 3, 1]


class _Graph:
    """Producer and constant look-ups over one ONNX graph."""

    def __init__(self, graph) -> None:  # noqa: ANN001 (onnx.GraphProto)
        from onnx import numpy_helper

        self._to_array = numpy_helper.to_array
        self.graph = graph
        self.producer = {out: node for node in graph.node for out in node.output}
        self.initializers = {init.name: init for init in graph.initializer}

    def node(self, name: str, op_type: str):  # noqa: ANN201
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def through_reshape(self, name: str) -> str:
        node = self.producer.get(name)
        return node.input[0] if node is not None and node.op_type == "Reshape" else name

    def constant(self, name: str) -> np.ndarray | None:
        """An initializer, or an initializer behind a Cast (fp16-stored weights)."""
        if name in self.initializers:
            return self._to_array(self.initializers[name])
        cast = self.node(name, "Cast")
        if cast is not None and cast.input[0] in self.initializers:
            return self._to_array(self.initializers[cast.input[0]]).astype(np.float32)
        return None

    @staticmethod
    def attribute(node, key: str):  # noqa: ANN001, ANN205
        from onnx import helper

        for attr in node.attribute:
            if attr.name == key:
                return helper.get_attribute_value(attr)
        return None

    def split_constant(self, node) -> tuple[np.ndarray | None, str | None]:  # noqa: ANN001
        """(the constant input, the other input) of a binary node."""
        value, other = None, None
        for name in node.input:
            array = self.constant(name)
            if array is not None:
                value = array
            else:
                other = name
        return value, other


def _channel_mean(g: _Graph, name: str | None, x: str | None = None):  # noqa: ANN202
    node = g.node(name, "ReduceMean") if name else None
    if node is None or list(g.attribute(node, "axes") or []) != [1]:
        return None
    if g.attribute(node, "keepdims") == 0 or (x is not None and node.input[0] != x):
        return None
    return node


def _match(g: _Graph, add) -> tuple[str, np.ndarray, float] | None:  # noqa: ANN001
    """(NHWC input, gamma, epsilon) when ``add`` ends a decomposed layer norm, else None."""
    if len(add.input) != 2:
        return None
    muls = [g.node(name, "Mul") for name in add.input]
    if None in muls:
        return None
    for scaled, shifted in (muls, muls[::-1]):
        transpose = next((t for t in (g.node(i, "Transpose") for i in scaled.input) if t), None)
        if transpose is None or list(g.attribute(transpose, "perm") or []) != _NHWC:
            continue
        x = transpose.input[0]
        factor = [i for i in scaled.input if i != transpose.output[0]]
        if len(factor) != 1 or factor[0] not in shifted.input:
            continue
        negated = [i for i in shifted.input if i != factor[0]]
        neg = g.node(g.through_reshape(negated[0]), "Neg") if len(negated) == 1 else None
        mean = _channel_mean(g, neg.input[0] if neg is not None else None, x)
        factor_node = g.node(factor[0], "Mul")
        if mean is None or factor_node is None:
            continue
        gamma, inverse = g.split_constant(factor_node)
        reciprocal = g.node(g.through_reshape(inverse), "Reciprocal") if inverse else None
        root = g.node(reciprocal.input[0], "Sqrt") if reciprocal is not None else None
        plus_eps = g.node(root.input[0], "Add") if root is not None else None
        if gamma is None or plus_eps is None:
            continue
        eps, variance = g.split_constant(plus_eps)
        var = _channel_mean(g, variance)
        square = g.node(var.input[0], "Mul") if var is not None else None
        if eps is None or eps.size != 1 or square is None or square.input[0] != square.input[1]:
            continue
        centred = g.node(square.input[0], "Sub")
        if (centred is None or centred.input[0] != x
                or g.through_reshape(centred.input[1]) != mean.output[0]):
            continue
        return transpose.output[0], gamma.reshape(-1).astype(np.float32), float(eps.reshape(-1)[0])
    return None


def fuse_layer_norms(model) -> int:  # noqa: ANN001 (onnx.ModelProto)
    """Rewrite every matched layer norm in place; returns how many. Needs opset >= 17."""
    from onnx import helper, numpy_helper

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 17:
        return 0
    g = _Graph(model.graph)
    nodes, fused = [], 0
    for node in model.graph.node:
        found = _match(g, node) if node.op_type == "Add" else None
        if found is None:
            nodes.append(node)
            continue
        source, gamma, eps = found
        prefix = f"fused_layer_norm_{fused}"
        model.graph.initializer.extend([numpy_helper.from_array(gamma, f"{prefix}/scale"),
                                        numpy_helper.from_array(np.zeros_like(gamma),
                                                                f"{prefix}/bias")])
        nodes.append(helper.make_node("LayerNormalization",
                                      [source, f"{prefix}/scale", f"{prefix}/bias"],
                                      list(node.output), axis=-1, epsilon=eps, name=prefix))
        fused += 1
    if fused:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        _drop_unused(model)  # the pieces of the old form
    return fused


def _drop_unused(model) -> None:  # noqa: ANN001 (onnx.ModelProto)
    """Remove nodes and initializers nothing reads any more (after a rewrite)."""
    graph = model.graph
    nodes = list(graph.node)
    graph_outputs = {out.name for out in graph.output}
    while True:
        used = graph_outputs | {name for node in nodes for name in node.input}
        kept = [node for node in nodes if any(out in used for out in node.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    initializers = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def nchwc_block_size() -> int:
    """onnxruntime's NCHWc channel block on this CPU when it is 16 (AVX-512), else 0.

    On AVX2 machines the block is 8 and the mesh's 8-channel layers already fit it; elsewhere
    (ARM) there is no NCHWc layout: padding would only add work, so it is not done.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return 0
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return 16 if "avx512f" in line.split() else 0
    except OSError:
        return 0
    return 0


def _chain_from(g: _Graph, start, channels: int, consumers) -> list | None:  # noqa: ANN001
    """The nodes a narrow tensor flows through until convolutions widen it again, or None.

    Returns ``[(role, node)]``: ``out`` (the convolution that makes the narrow tensor),
    ``depthwise`` (per-channel convolutions inside), ``elementwise`` (Relu, Add of chain
    tensors), ``in`` (the full convolutions that read it). Anything else: not padded.
    """
    graph_outputs = {out.name for out in g.graph.output}
    plan, frontier, seen = [("out", start)], [start.output[0]], set()
    while frontier:
        tensor = frontier.pop()
        if tensor in seen:
            continue
        if tensor in graph_outputs:
            return None
        seen.add(tensor)
        for node in consumers.get(tensor, ()):
            if node.op_type in ("Relu", "Add"):
                plan.append(("elementwise", node))
                frontier.append(node.output[0])
                continue
            if node.op_type != "Conv" or node.input[0] != tensor:
                return None
            weights = g.constant(node.input[1])
            group = g.attribute(node, "group") or 1
            if weights is None or weights.ndim != 4:
                return None
            if group == channels and weights.shape[:2] == (channels, 1):
                plan.append(("depthwise", node))
                frontier.append(node.output[0])
            elif group == 1 and weights.shape[1] == channels:
                plan.append(("in", node))
            else:
                return None
    if any(role == "elementwise" and node.op_type == "Add" and not set(node.input) <= seen
           for role, node in plan):
        return None
    return plan


def pad_channels_for_nchwc(model, block: int) -> int:  # noqa: ANN001 (onnx.ModelProto)
    """Widen closed chains of fewer-than-``block`` channels to ``block``; returns how many."""
    from onnx import numpy_helper

    if block <= 0:
        return 0
    g = _Graph(model.graph)
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    padded = 0
    names = iter(range(1 << 30))

    def replace(node, index: int, values: np.ndarray) -> None:  # noqa: ANN001
        name = f"nchwc_padded_{next(names)}"  # a new tensor each: weights may be shared
        model.graph.initializer.append(numpy_helper.from_array(values.astype(np.float32), name))
        node.input[index] = name

    for node in list(model.graph.node):
        if node.op_type != "Conv" or (g.attribute(node, "group") or 1) != 1:
            continue
        weights = g.constant(node.input[1])
        # Only where the chain's first convolution reads a blocked tensor, so that padded,
        # the whole chain runs blocked (measured: the mesh's four chains gain ~0.6 ms; the
        # expression model's narrow chains start from 1 or 8 channels and ran ~15 % slower).
        if weights is None or weights.ndim != 4 or weights.shape[0] >= block \
                or block % weights.shape[0] or weights.shape[1] % block:
            continue
        channels = weights.shape[0]
        plan = _chain_from(g, node, channels, consumers)
        if plan is None or not any(role == "in" for role, _ in plan):
            continue
        extra = block - channels
        for role, member in plan:
            if role in ("out", "depthwise"):
                w = g.constant(member.input[1])
                replace(member, 1, np.concatenate([w, np.zeros((extra, *w.shape[1:]))]))
                if len(member.input) > 2 and member.input[2]:
                    bias = g.constant(member.input[2]).reshape(-1)
                    replace(member, 2, np.concatenate([bias, np.zeros(extra)]))
                if role == "depthwise":
                    for attr in member.attribute:
                        if attr.name == "group":
                            attr.i = block
            elif role == "in":
                w = g.constant(member.input[1])
                zeros = np.zeros((w.shape[0], extra, *w.shape[2:]))
                replace(member, 1, np.concatenate([w, zeros], axis=1))
        padded += 1
    if padded:
        _drop_unused(model)
    return padded


_NCHW = [0, 3, 1, 2]


def take_channels_first(model) -> dict[str, tuple[int, ...]]:  # noqa: ANN001 (onnx.ModelProto)
    """Drop NHWC->NCHW Transposes that only re-lay a graph input; declare the input NCHW.

    Only inputs with a static 4-D shape whose NHWC and NCHW forms differ (so a fed array's
    layout is never ambiguous). Returns ``{input name: the file's NHWC shape}``.
    """
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    graph_outputs = {out.name for out in graph.output}
    changed: dict[str, tuple[int, ...]] = {}
    for value in graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else 0 for d in dims)
        if len(shape) != 4 or min(shape) <= 0:
            continue
        nchw = (shape[0], shape[3], shape[1], shape[2])
        readers = [node for node in graph.node if value.name in node.input]
        if (nchw == shape or len(readers) != 1 or readers[0].op_type != "Transpose"
                or list(_Graph.attribute(readers[0], "perm") or []) != _NCHW
                or readers[0].output[0] in graph_outputs):
            continue
        transpose = readers[0]
        for node in graph.node:
            for k, name in enumerate(node.input):
                if name == transpose.output[0]:
                    node.input[k] = value.name
        graph.node.remove(transpose)
        for dim, size in zip(dims, nchw, strict=True):
            dim.dim_value = size
        changed[value.name] = shape
    return changed


@dataclass(frozen=True)
class RewrittenModel:
    """What :func:`rewritten_model` changed: the new bytes, and inputs now channels-first."""

    model_bytes: bytes
    channels_first: dict[str, tuple[int, ...]]  # input name -> the file's NHWC shape


def rewritten_model(path: Path, nchwc_block: int = 0) -> RewrittenModel | None:
    """The model after the rewrites above, or None when none applies (load the file).

    ``nchwc_block``: the CPU provider's channel block (:func:`nchwc_block_size`) when the
    model runs on it, else 0 (no channel padding).
    """
    import onnx

    model = onnx.load(str(path))
    fused = fuse_layer_norms(model)
    channels_first = take_channels_first(model)
    padded = pad_channels_for_nchwc(model, nchwc_block)
    if not fused and not channels_first and not padded:
        return None
    log.info("%s: fused %d decomposed layer norms, padded %d narrow chains to %d channels; "
             "inputs made channels-first: %s", path.name, fused, padded, nchwc_block,
             sorted(channels_first) or "none")
    return RewrittenModel(model.SerializeToString(), channels_first)
