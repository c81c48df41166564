"""Values as data between the grader and the sandboxed child, and the framing of messages.

Both sides import this module (the child gets a read-only copy next to ``harness.py``), and it
imports only the standard library and torch. Nothing here ever unpickles: a message is a JSON
document, and tensors travel as raw bytes (base64) with a dtype from a fixed list.

Why tensors go *by storage*: the checks must see aliasing exactly as it happened in the
learner's function. If ``state["momentum_buffer"] = grad`` in the child, the buffer and the
gradient share one storage there, so the encoding names one storage and two tensor views of it;
the decoder on the other side rebuilds them as two views of one storage again. Objects that
the request sent (tensors, dicts, lists, modules) are marked ``same`` when the reply mentions
the very same object, and the decoder then updates the *caller's* object in place: an
in-place update in the child becomes an in-place update of the grader's tensor, so the
framework's own detectors (changed inputs, updated a copy, aliasing) work unchanged.

Node forms (JSON)::

    null, true, 1, 2.5, "text"            the value itself (NaN and infinities as JSON extensions)
    {"t": i}                              tensor number i of the message's tensor table
    {"dict": [[k, v], ...], "c": j, "same": k?}   a dict (keys are nodes too)
    {"list": [...], "c": j, "same": k?}   a list;  {"tuple": [...]}: a tuple
    {"ref": j}                            the container numbered j again (shared or cyclic)
    {"complex": [re, im]}, {"ndarray": i} (a numpy array, tensor i), {"generator": i}
    {"module": {...}}                     a torch.nn module of a known type, see MODULE_TYPES;
                                          any other module as a "shell" (its tree, no forward)
    {"callable": h, "name": "..."}        a function that stays on the side that sent it
    {"opaque": "TypeName"}                anything else: compared as a value it never equals
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
from typing import Any, Callable

import torch
from torch import nn

# A message larger than this is refused (a learner's function returning gigabytes).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

DTYPES: dict[str, torch.dtype] = {
    name: getattr(torch, name)
    for name in ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
                 "uint8", "int8", "int16", "int32", "int64", "bool")
}
_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}

# torch.nn modules that can travel as data: constructor arguments read from attributes.
MODULE_TYPES: dict[str, tuple[str, ...]] = {
    "Sequential": (), "ModuleList": (), "Identity": (),
    "Linear": ("in_features", "out_features"),
    "Conv1d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
               "groups"),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
               "groups"),
    "ReLU": (), "Tanh": (), "Sigmoid": (), "GELU": (), "SiLU": (), "Softplus": ("beta", "threshold"),
    "LeakyReLU": ("negative_slope",), "ELU": ("alpha",), "Dropout": ("p",),
    "Flatten": ("start_dim", "end_dim"), "Softmax": ("dim",), "LogSoftmax": ("dim",),
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "Embedding": ("num_embeddings", "embedding_dim"),
}
_HAS_BIAS_ARG = {"Linear", "Conv1d", "Conv2d"}


class WireError(Exception):
    """A message that is not what the protocol allows (too big, not JSON, bad tensor, ...)."""


# --------------------------------------------------------------------------------------------
# Framing: 8-byte length, then UTF-8 JSON
# --------------------------------------------------------------------------------------------


def send(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":"), allow_nan=True).encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(data) / 2**20:.0f} MB is over the "
                        f"{MAX_MESSAGE_BYTES // 2**20} MB limit")
    payload = struct.pack(">Q", len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exactly(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> dict[str, Any]:
    (size,) = struct.unpack(">Q", read_exactly(fd, 8))
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"a message of {size / 2**20:.0f} MB is over the "
                        f"{MAX_MESSAGE_BYTES // 2**20} MB limit")
    try:
        message = json.loads(read_exactly(fd, size).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"not a JSON message: {error}") from None
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------


def _storage_bytes(storage: torch.UntypedStorage) -> bytes:
    if storage.nbytes() == 0:
        return b""
    flat = torch.empty(0, dtype=torch.uint8).set_(storage, 0, (storage.nbytes(),), (1,))
    return flat.numpy().tobytes()


class Encoder:
    """Turn a value into a JSON-able node plus tables of tensors and storages.

    ``known_tensors`` / ``known_containers`` map ``id(obj)`` to an index in the *request* the
    encoder answers (the child marks objects it was given); ``known_storages`` maps a storage's
    data pointer to (request index, bytes as received), so unchanged storages are not resent.
    ``on_callable(fn) -> node`` decides how a function is sent (None: as opaque).
    """

    def __init__(self, *, known_tensors=None, known_containers=None, known_storages=None,
                 on_callable: Callable[[Any], dict] | None = None):
        self.tensors: list[dict[str, Any]] = []
        self.storages: list[dict[str, Any]] = []
        self.tensor_objects: list[torch.Tensor] = []
        self.storage_objects: list[torch.UntypedStorage] = []
        self.container_objects: list[Any] = []
        self._tensor_index: dict[int, int] = {}
        self._storage_index: dict[int, int] = {}
        self._container_index: dict[int, int] = {}
        self._known_tensors = known_tensors or {}
        self._known_containers = known_containers or {}
        self._known_storages = known_storages or {}
        self._on_callable = on_callable
        self._keepalive: list[Any] = []

    def tables(self) -> dict[str, Any]:
        return {"tensors": self.tensors, "storages": self.storages}

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise WireError("a value nested more than 64 levels deep")
        if value is None or isinstance(value, (bool, str)):
            return value if not isinstance(value, str) else str.__str__(value)
        if isinstance(value, int):
            return int.__index__(value)
        if isinstance(value, float):
            return float.__float__(value) if math.isfinite(value) else float(repr(value))
        if isinstance(value, complex):
            return {"complex": [complex.__complex__(value).real, complex.__complex__(value).imag]}
        if isinstance(value, torch.Tensor):
            return {"t": self._tensor(value)}
        if isinstance(value, torch.Generator):
            state = value.get_state()
            return {"generator": self._tensor(state)}
        numpy_node = self._numpy(value)
        if numpy_node is not None:
            return numpy_node
        if isinstance(value, nn.Module):
            return self._module(value, depth)
        if isinstance(value, (dict, list)):
            key = id(value)
            if key in self._container_index:
                return {"ref": self._container_index[key]}
            index = len(self.container_objects)
            self._container_index[key] = index
            self.container_objects.append(value)
            node: dict[str, Any] = {"c": index}
            if key in self._known_containers:
                node["same"] = self._known_containers[key]
            if isinstance(value, dict):
                node["dict"] = [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                for k, v in list(dict.items(value))]
            else:
                node["list"] = [self.encode(item, depth + 1) for item in list.__iter__(value)]
            return node
        if isinstance(value, tuple):
            return {"tuple": [self.encode(item, depth + 1) for item in tuple.__iter__(value)]}
        if callable(value) and self._on_callable is not None:
            return self._on_callable(value)
        return {"opaque": type(value).__name__}

    def _numpy(self, value: Any) -> dict | None:
        module = type(value).__module__
        if not module.startswith("numpy"):
            return None
        import numpy as np
        if isinstance(value, np.ndarray):
            try:
                return {"ndarray": self._tensor(torch.from_numpy(np.ascontiguousarray(value)))}
            except TypeError:
                return {"opaque": "ndarray"}
        if isinstance(value, np.generic):
            return self.encode(value.item())
        return None

    def _tensor(self, tensor: torch.Tensor) -> int:
        key = id(tensor)
        if key in self._tensor_index:
            return self._tensor_index[key]
        # A subclass may lie through __torch_function__; read the plain tensor underneath.
        with torch._C.DisableTorchFunction():
            plain = torch.Tensor.as_subclass(tensor, torch.Tensor).detach()
            if plain.layout != torch.strided or plain.device.type != "cpu" \
                    or plain.dtype not in _DTYPE_NAMES:
                raise WireError(f"a {plain.dtype} {plain.layout} tensor on {plain.device} "
                                "cannot be sent; use a dense CPU tensor")
            storage = plain.untyped_storage()
            entry = {
                "storage": self._storage(storage),
                "dtype": _DTYPE_NAMES[plain.dtype],
                "size": list(plain.shape),
                "stride": list(plain.stride()),
                "offset": plain.storage_offset(),
                "requires_grad": bool(tensor.requires_grad),
            }
        if key in self._known_tensors:
            entry["same"] = self._known_tensors[key]
        if isinstance(tensor, nn.Parameter):
            entry["parameter"] = True
        index = len(self.tensors)
        self.tensors.append(entry)
        self.tensor_objects.append(tensor)
        self._tensor_index[key] = index
        self._keepalive.append(tensor)
        grad = tensor.grad if tensor.is_leaf else None
        if grad is not None:  # optimizers read param.grad: it travels with its parameter
            entry["grad"] = self._tensor(grad)
        return index

    def _storage(self, storage: torch.UntypedStorage) -> int:
        key = storage.data_ptr() if storage.nbytes() else id(storage)
        if key in self._storage_index:
            return self._storage_index[key]
        entry: dict[str, Any] = {"nbytes": storage.nbytes()}
        data = _storage_bytes(storage)
        known = self._known_storages.get(key)
        if known is not None and len(known[1]) == len(data):
            entry["same"] = known[0]
            if data != known[1]:
                entry["bytes"] = base64.b64encode(data).decode("ascii")
        else:
            entry["bytes"] = base64.b64encode(data).decode("ascii")
        index = len(self.storages)
        self.storages.append(entry)
        self.storage_objects.append(storage)
        self._storage_index[key] = index
        return index

    def _module(self, module: nn.Module, depth: int) -> dict:
        kind = type(module).__name__
        # Any other module (a checker's own nn.Module subclass, MultiheadAttention, RMSNorm)
        # travels as a *shell*: a plain nn.Module holding the same tree of children,
        # parameters and buffers, without a forward. Code that walks a model's parameters
        # (8.3's AdamW groups) works on it; calling it raises.
        shell = type(module).__module__.split(".")[0] != "torch" or kind not in MODULE_TYPES
        key = id(module)
        if key in self._container_index:
            return {"ref": self._container_index[key]}
        index = len(self.container_objects)
        self._container_index[key] = index
        self.container_objects.append(module)
        args = {} if shell else {name: _plain_arg(getattr(module, name))
                                 for name in MODULE_TYPES[kind]}
        if kind in _HAS_BIAS_ARG and not shell:
            args["bias"] = module.bias is not None
        spec = {
            "type": kind, "args": args, "training": bool(module.training),
            **({"shell": f"{type(module).__module__}.{kind}"[:120]} if shell else {}),
            "params": [[name, None if p is None else {"t": self._tensor(p)}]
                       for name, p in module._parameters.items()],
            "buffers": [[name, None if b is None else {"t": self._tensor(b)}]
                        for name, b in module._buffers.items()],
            "children": [[name, self.encode(child, depth + 1)]
                         for name, child in module._modules.items()],
        }
        node = {"module": spec, "c": index}
        if key in self._known_containers:
            node["same"] = self._known_containers[key]
        return node


def _plain_arg(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


class Decoder:
    """Rebuild values from a message made by :class:`Encoder`: plain tensors, floats, dicts.

    ``request`` is the :class:`Encoder` that made the request this message answers (or None):
    nodes marked ``same`` then resolve to the request's own objects, updated in place.
    ``on_callable(node) -> object`` makes the local stand-in for a remote function.
    """

    def __init__(self, message: dict[str, Any], *, request: Encoder | None = None,
                 on_callable: Callable[[dict], Any] | None = None):
        tensors, storages = message.get("tensors", []), message.get("storages", [])
        if not isinstance(tensors, list) or not isinstance(storages, list):
            raise WireError("tensor tables must be lists")
        self._request = request
        self._on_callable = on_callable
        self._storages = [self._make_storage(entry) for entry in storages]
        self._tensor_entries = tensors
        self._tensors: dict[int, torch.Tensor] = {}
        self._containers: dict[int, Any] = {}

    # storages -------------------------------------------------------------------------------
    def _make_storage(self, entry: Any) -> torch.Tensor:
        """A flat uint8 tensor over the storage: the request's own one when marked ``same``."""
        if not isinstance(entry, dict) or not isinstance(entry.get("nbytes"), int):
            raise WireError("bad storage entry")
        same = entry.get("same")
        data = entry.get("bytes")
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
        if same is not None:
            if self._request is None or not (0 <= same < len(self._request.storage_objects)):
                raise WireError("a storage refers to a request that does not exist")
            storage = self._request.storage_objects[same]
            flat = torch.empty(0, dtype=torch.uint8).set_(storage, 0, (storage.nbytes(),), (1,))
            if raw is not None:
                if len(raw) != storage.nbytes():
                    raise WireError("a changed storage changed its size")
                flat.copy_(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
            return flat
        if raw is None or len(raw) != entry["nbytes"]:
            raise WireError("a new storage without its bytes")
        return torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else \
            torch.empty(0, dtype=torch.uint8)

    def tensor(self, index: Any) -> torch.Tensor:
        if not isinstance(index, int) or not 0 <= index < len(self._tensor_entries):
            raise WireError("a tensor reference outside the table")
        if index in self._tensors:
            return self._tensors[index]
        entry = self._tensor_entries[index]
        try:
            dtype = DTYPES[entry["dtype"]]
            flat = self._storages[entry["storage"]]
            size = [int(s) for s in entry["size"]]
            stride = [int(s) for s in entry["stride"]]
            offset = int(entry["offset"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise WireError("bad tensor entry") from None
        itemsize = torch.empty(0, dtype=dtype).element_size()
        if any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0 \
                or len(size) != len(stride) or len(size) > 32:
            raise WireError("bad tensor geometry")
        extent = offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1 \
            if all(size) else 0
        if extent * itemsize > flat.numel():
            raise WireError("a tensor reaches outside its storage")
        same = entry.get("same")
        if same is not None:
            if self._request is None or not (0 <= same < len(self._request.tensor_objects)):
                raise WireError("a tensor refers to a request that does not exist")
            tensor = self._request.tensor_objects[same]
            if tensor.dtype != dtype:
                raise WireError("a tensor changed its dtype in place")
            if list(tensor.shape) != size or list(tensor.stride()) != stride \
                    or tensor.storage_offset() != offset \
                    or tensor.untyped_storage().data_ptr() != flat.untyped_storage().data_ptr():
                with torch.no_grad():
                    tensor.set_(flat.untyped_storage(), offset, size, stride)
        else:
            tensor = torch.empty(0, dtype=dtype).set_(flat.untyped_storage(), offset, size, stride)
            trainable = entry.get("requires_grad") and (dtype.is_floating_point or dtype.is_complex)
            if entry.get("parameter"):
                tensor = nn.Parameter(tensor, requires_grad=bool(trainable))
            elif trainable:
                tensor.requires_grad_(True)
        self._tensors[index] = tensor
        if "grad" in entry:
            grad = self.tensor(entry["grad"])
            if tensor.grad is not grad:
                tensor.grad = grad
        elif same is not None and tensor.is_leaf and tensor.grad is not None:
            tensor.grad = None  # the learner's code set it to None (zero_grad(set_to_none))
        return tensor

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise WireError("a value nested more than 64 levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            raise WireError("bare JSON list (lists travel as {'list': ...})")
        if not isinstance(node, dict):
            raise WireError("unknown node")
        if "t" in node:
            return self.tensor(node["t"])
        if "ref" in node:
            if node["ref"] not in self._containers:
                raise WireError("a reference to an unknown container")
            return self._containers[node["ref"]]
        if "dict" in node or "list" in node:
            return self._container(node, depth)
        if "tuple" in node:
            return tuple(self.decode(item, depth + 1) for item in _as_list(node["tuple"]))
        if "complex" in node:
            re_, im = _as_list(node["complex"])
            return complex(float(re_), float(im))
        if "ndarray" in node:
            return self.tensor(node["ndarray"]).numpy().copy()
        if "generator" in node:
            generator = torch.Generator()
            generator.set_state(self.tensor(node["generator"]).clone())
            return generator
        if "module" in node:
            return self._module(node, depth)
        if "callable" in node:
            if self._on_callable is None:
                return Opaque("function")
            return self._on_callable(node)
        if "opaque" in node:
            return Opaque(str(node["opaque"]))
        raise WireError(f"unknown node kind {sorted(node)[:3]}")

    def _container(self, node: dict, depth: int) -> Any:
        index = node.get("c")
        same = node.get("same")
        if same is not None:
            if self._request is None or not (0 <= same < len(self._request.container_objects)):
                raise WireError("a container refers to a request that does not exist")
            target = self._request.container_objects[same]
        else:
            target = {} if "dict" in node else []
        if not isinstance(target, dict if "dict" in node else list):
            raise WireError("a container changed its kind")
        self._containers[index] = target
        if "dict" in node:
            items = []
            for pair in _as_list(node["dict"]):
                key, value = _as_list(pair)
                key = self.decode(key, depth + 1)
                if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                    raise WireError("a dict key that is not a plain value")
                items.append((key, self.decode(value, depth + 1)))
            target.clear()
            target.update(items)
        else:
            items = [self.decode(item, depth + 1) for item in _as_list(node["list"])]
            target[:] = items
        return target

    def _module(self, node: dict, depth: int) -> nn.Module:
        spec = node["module"]
        same = node.get("same")
        if same is not None:
            if self._request is None or not (0 <= same < len(self._request.container_objects)):
                raise WireError("a module refers to a request that does not exist")
            module = self._request.container_objects[same]
            if not isinstance(module, nn.Module):
                raise WireError("a module changed its kind")
        else:
            kind = spec.get("type")
            args = dict(spec.get("args", {}))
            if spec.get("shell"):
                module = nn.Module()  # the tree only (see Encoder._module)
            elif kind not in MODULE_TYPES:
                return Opaque(f"module {kind}")
            elif kind in ("Sequential", "ModuleList"):
                module = getattr(nn, kind)()
            else:
                module = getattr(nn, kind)(**{k: tuple(v) if isinstance(v, list) else v
                                              for k, v in args.items()})
        self._containers[node.get("c")] = module
        for name, child in _as_list(spec.get("children", [])):
            decoded = self.decode(child, depth + 1)
            if isinstance(decoded, nn.Module):
                module._modules[str(name)] = decoded
        with torch.no_grad():
            for name, ref in _as_list(spec.get("params", [])):
                if ref is None:
                    module._parameters[str(name)] = None
                    continue
                tensor = self.decode(ref, depth + 1)
                current = module._parameters.get(str(name))
                if isinstance(tensor, nn.Parameter):
                    # the very Parameter the table holds: a function that returns the model's
                    # parameters (AdamW groups, 8.3) hands back objects the sender knows, and
                    # tied weights stay one Parameter
                    module._parameters[str(name)] = tensor
                elif current is None or current.untyped_storage().data_ptr() \
                        != tensor.untyped_storage().data_ptr():
                    module._parameters[str(name)] = nn.Parameter(
                        tensor.detach(), requires_grad=tensor.requires_grad or current is None
                        or current.requires_grad)
            for name, ref in _as_list(spec.get("buffers", [])):
                module._buffers[str(name)] = None if ref is None else self.decode(ref, depth + 1)
        module.train(bool(spec.get("training", True)))
        return module


def _as_list(value: Any) -> list:
    if not isinstance(value, list):
        raise WireError("expected a JSON list")
    return value


class Opaque:
    """Something the other side returned that is not data (an object of a learner's class).

    It equals nothing, so a check reports it as a wrong value with its type name.
    """

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __eq__(self, other: Any) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"
