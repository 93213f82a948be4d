"""PyTorch's legacy checkpoint format (before 1.6: not a zip) read as data, never unpickled.

Such a file is five pickles and then the raw storages: a magic number, a protocol version, the writer's system
(byte order, type sizes), the saved object, and the list of storage keys; then for each key, in that order, its
element count (8 bytes, little-endian) and its bytes. Unpickling runs whatever the file names, so each pickle is
walked here opcode by opcode (``pickletools.genops``) by a small stack machine that builds plain dicts, lists
and tuples, and inert records for what would have been calls: a ``Global`` the file names (refused unless the
caller expects that name), an ``Object`` of such a class with its state, a ``TensorRef`` (storage, offset, shape,
stride) where torch would rebuild a tensor. Nothing is imported, called or executed, whatever the file holds;
what this machine does not know is refused in one line (``ForeignFileError``) naming the file and what was found.
"""

from __future__ import annotations

import io
import pickletools
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from tagger.errors import ForeignFileError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization's, the first pickle of every legacy file
PROTOCOL_VERSION = 1001
ZIP_MAGIC = b"PK\x03\x04"

# torch's storage classes -> the numpy dtype of their bytes (the writer's byte order is checked to be little)
STORAGE_DTYPES = {
    "torch.FloatStorage": "<f4",
    "torch.DoubleStorage": "<f8",
    "torch.HalfStorage": "<f2",
    "torch.LongStorage": "<i8",
    "torch.IntStorage": "<i4",
    "torch.ShortStorage": "<i2",
    "torch.CharStorage": "i1",
    "torch.ByteStorage": "u1",
    "torch.BoolStorage": "?",
}
REBUILD_TENSOR = "torch._utils._rebuild_tensor_v2"
REBUILD_PARAMETER = "torch._utils._rebuild_parameter"
# names any legacy checkpoint uses, whatever it holds; the caller adds the classes of its own content
# (a module saved by a recent torch holds a set: its _non_persistent_buffers_set)
TORCH_GLOBALS = frozenset(
    {REBUILD_TENSOR, REBUILD_PARAMETER, "collections.OrderedDict", "_codecs.encode", "builtins.set"}
) | set(STORAGE_DTYPES)


@dataclass(frozen=True)
class Global:
    """A class or function the file names (``module.name``): a name only, never imported."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class Object:
    """What unpickling would have built by calling ``cls`` (NEWOBJ, or REDUCE of a class) and setting its state
    (BUILD): for a torch module or a Flair object, ``state`` is its ``__dict__``."""

    cls: Global
    args: tuple
    state: Any = None


@dataclass(frozen=True)
class Storage:
    key: str
    dtype: str  # numpy's
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """A tensor as the file describes it: a view of ``storage`` (all in elements)."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


@dataclass
class LegacyFile:
    """A legacy checkpoint read as data: its saved object as a tree of plain values and records, and each
    storage as a read-only 1-D array over the file's bytes."""

    name: str  # for messages
    root: Any
    storages: dict[str, np.ndarray] = field(repr=False)

    def array(self, ref: TensorRef) -> np.ndarray:
        """The tensor ``ref`` describes, copied out of its storage into a new contiguous array."""
        storage = self.storages[ref.storage.key]
        if any(n < 0 for n in ref.shape) or any(s < 0 for s in ref.stride) or len(ref.shape) != len(ref.stride):
            refuse(self.name, f"a tensor of shape {ref.shape} and stride {ref.stride}")
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride))
        if 0 not in ref.shape and not 0 <= ref.offset <= last < storage.size:
            refuse(self.name, f"a tensor reaching element {last} of a storage of {storage.size}")
        strides = tuple(s * storage.itemsize for s in ref.stride)
        view = np.lib.stride_tricks.as_strided(storage[ref.offset :], ref.shape, strides, writeable=False)
        return np.array(view, dtype=storage.dtype.newbyteorder("="), order="C")


def refuse(name: str, found: str) -> NoReturn:
    """The one line that refuses a file for what was found in it (as data: nothing in it was run)."""
    raise ForeignFileError(name, f"refused, found {found} (read as data: nothing in it was run)")


def read_legacy_torch(data: bytes, name: str, allowed_globals: Collection[str]) -> LegacyFile:
    """The legacy checkpoint ``data`` (``name`` for messages) as a ``LegacyFile``. A global outside
    ``TORCH_GLOBALS`` and ``allowed_globals``, an opcode this reader does not handle, a missing or short storage
    or a truncated file: ``ForeignFileError``, before anything of the file is used."""
    if data[:4] == ZIP_MAGIC:
        raise ForeignFileError(name, "a zip checkpoint (PyTorch 1.6 or later), not the legacy format expected here")
    stream = io.BytesIO(data)
    if read_pickle(stream, name, ()) != MAGIC_NUMBER:
        raise ForeignFileError(name, "not a legacy PyTorch checkpoint: it does not start with torch's magic number")
    if (protocol := read_pickle(stream, name, ())) != PROTOCOL_VERSION:
        raise ForeignFileError(name, f"legacy checkpoint protocol {protocol!r}; only {PROTOCOL_VERSION} is read")
    system = read_pickle(stream, name, ())
    if not isinstance(system, dict) or system.get("little_endian") is not True:
        raise ForeignFileError(name, "written on a big-endian machine, or without the system record torch writes")
    machine = PickleMachine(name, TORCH_GLOBALS | frozenset(allowed_globals))
    root = machine.run(stream)
    keys = read_pickle(stream, name, ())
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise ForeignFileError(name, "the list of storage keys after the saved object is not a list of strings")
    storages = read_storages(data, stream.tell(), keys, machine.storages, name)
    return LegacyFile(name, root, storages)


def read_pickle(stream: io.BytesIO, name: str, allowed_globals: Collection[str]) -> Any:
    return PickleMachine(name, frozenset(allowed_globals)).run(stream)


def read_storages(
    data: bytes, start: int, keys: list[str], described: dict[str, Storage], name: str
) -> dict[str, np.ndarray]:
    """Each storage's elements, in the order of ``keys``: an 8-byte count, then count × element size bytes."""
    if missing := sorted(set(described) - set(keys)):
        raise ForeignFileError(name, f"truncated or damaged: storage {missing[0]} is used but not stored")
    arrays: dict[str, np.ndarray] = {}
    position = start
    for key in keys:
        storage = described.get(key)
        if storage is None:
            raise ForeignFileError(name, f"damaged: storage {key} is stored but no tensor uses it")
        if position + 8 > len(data):
            raise ForeignFileError(name, f"truncated at byte {len(data):,}, before storage {key}")
        (count,) = struct.unpack_from("<q", data, position)
        dtype = np.dtype(storage.dtype)
        if count != storage.numel:
            raise ForeignFileError(name, f"damaged: storage {key} holds {count} elements, not {storage.numel}")
        end = position + 8 + count * dtype.itemsize
        if end > len(data):
            raise ForeignFileError(name, f"truncated at byte {len(data):,}, inside storage {key} (to byte {end:,})")
        arrays[key] = np.frombuffer(data, dtype, count, position + 8)
        position = end
    if position != len(data):
        raise ForeignFileError(name, f"damaged: data after the last storage ({len(data) - position:,} bytes)")
    return arrays


Handler = Callable[[Any, int], object]  # what a handler returns is not used


class PickleMachine:
    """The pickle virtual machine for the opcodes a torch checkpoint uses, building data instead of objects."""

    def __init__(self, name: str, allowed_globals: frozenset[str]):
        self.name, self.allowed = name, allowed_globals
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.storages: dict[str, Storage] = {}
        self.handlers: dict[str, Handler] = {
            **dict.fromkeys(("PROTO", "FRAME"), lambda arg, pos: None),
            **dict.fromkeys(CONSTANT_OPCODES, lambda arg, pos: self.push(arg)),
            "NONE": lambda arg, pos: self.push(None),
            "NEWTRUE": lambda arg, pos: self.push(True),
            "NEWFALSE": lambda arg, pos: self.push(False),
            "EMPTY_DICT": lambda arg, pos: self.push({}),
            "EMPTY_LIST": lambda arg, pos: self.push([]),
            "EMPTY_TUPLE": lambda arg, pos: self.push(()),
            "EMPTY_SET": lambda arg, pos: self.push(set()),
            "ADDITEMS": self.add_items,
            "FROZENSET": lambda arg, pos: self.push(frozenset(self.hashable(self.pop_mark()))),
            "MARK": self.mark,
            "POP": lambda arg, pos: self.pop(),
            "POP_MARK": lambda arg, pos: self.pop_mark(),
            "DUP": lambda arg, pos: self.push(self.top()),
            "TUPLE": lambda arg, pos: self.push(tuple(self.pop_mark())),
            "TUPLE1": lambda arg, pos: self.push(self.pop_n(1)),
            "TUPLE2": lambda arg, pos: self.push(self.pop_n(2)),
            "TUPLE3": lambda arg, pos: self.push(self.pop_n(3)),
            "LIST": lambda arg, pos: self.push(self.pop_mark()),
            "DICT": lambda arg, pos: self.push(self.set_items({}, self.pop_mark())),
            "APPEND": lambda arg, pos: self.append([self.pop()]),
            "APPENDS": lambda arg, pos: self.append(self.pop_mark()),
            "SETITEM": lambda arg, pos: self.set_items(self.top(2), list(self.pop_n(2))),
            "SETITEMS": self.set_marked_items,
            "MEMOIZE": lambda arg, pos: self.memo.__setitem__(len(self.memo), self.top()),
            **dict.fromkeys(("PUT", "BINPUT", "LONG_BINPUT"), lambda arg, pos: self.memo.__setitem__(arg, self.top())),
            **dict.fromkeys(("GET", "BINGET", "LONG_BINGET"), self.get),
            "GLOBAL": lambda arg, pos: self.push(self.make_global(*str(arg).split(" ", 1))),
            "STACK_GLOBAL": self.stack_global,
            "REDUCE": self.reduce,
            "NEWOBJ": lambda arg, pos: self.new_object(*self.pop_n(2)),
            "NEWOBJ_EX": lambda arg, pos: self.new_object(*self.pop_n(3)[:2]),
            "BUILD": self.build,
            "BINPERSID": lambda arg, pos: self.push(self.persistent(self.pop())),
        }

    def run(self, stream: io.BytesIO) -> Any:
        """Walk one pickle from the stream's position to its STOP; the stream is left after it."""
        opcode: pickletools.OpcodeInfo | None = None
        pos: int | None = stream.tell()
        try:
            for opcode, arg, pos in pickletools.genops(stream):
                if opcode.name == "STOP":
                    if len(self.stack) != 1 or self.marks:
                        self.refuse("a pickle that stops with a value count other than one")
                    return self.stack.pop()
                handler = self.handlers.get(opcode.name)
                if handler is None:
                    self.refuse(f"the pickle opcode {opcode.name} (at byte {pos})")
                assert pos is not None  # genops gives every opcode's position in a stream with tell(), as BytesIO
                handler(arg, pos)
        except (ValueError, EOFError, struct.error) as error:  # genops on a cut or damaged stream
            raise ForeignFileError(self.name, f"truncated or damaged pickle: {error}") from None
        except (IndexError, KeyError, TypeError, AttributeError):  # an opcode on a stack that cannot hold it
            where = f"{opcode.name if opcode else 'an opcode'} at byte {pos}"
            raise ForeignFileError(self.name, f"damaged pickle: {where} on values it cannot apply to") from None
        raise ForeignFileError(self.name, "truncated: a pickle ends before its STOP")

    def refuse(self, found: str) -> NoReturn:
        refuse(self.name, found)

    def mark(self, arg: Any, pos: int) -> None:
        self.marks.append(self.stack)
        self.stack = []

    def push(self, value: Any) -> None:
        self.stack.append(value)  # looked up when called: a MARK's pop swaps the stack

    def pop(self) -> Any:
        return self.stack.pop()

    def pop_n(self, count: int) -> tuple:
        if len(self.stack) < count:
            raise IndexError
        values = tuple(self.stack[-count:])
        del self.stack[-count:]
        return values

    def pop_mark(self) -> list[Any]:
        values = self.stack
        self.stack = self.marks.pop()
        return values

    def top(self, depth: int = 0) -> Any:
        return self.stack[-1 - depth]

    def get(self, arg: Any, pos: int) -> None:
        if arg not in self.memo:
            self.refuse(f"a reference to memo entry {arg}, never stored")
        self.push(self.memo[arg])

    def append(self, values: list[Any]) -> None:
        target = self.top()
        if not isinstance(target, list):
            self.refuse(f"items appended to a {type(target).__name__}")
        target.extend(values)

    def set_marked_items(self, arg: Any, pos: int) -> None:
        items = self.pop_mark()  # the dict is below the mark
        self.set_items(self.top(), items)

    def set_items(self, target: Any, items: list[Any]) -> dict:
        if not isinstance(target, dict) or len(items) % 2:
            self.refuse(f"items set in a {type(target).__name__}")
        for key, value in zip(self.hashable(items[::2]), items[1::2]):
            target[key] = value
        return target

    def add_items(self, arg: Any, pos: int) -> None:
        items = self.pop_mark()
        if not isinstance(self.top(), set):
            self.refuse(f"items added to a {type(self.top()).__name__}")
        self.top().update(self.hashable(items))

    def hashable(self, keys: list[Any]) -> list[Any]:
        """Dict keys and set members: plain values only (a record or a container would be a crafted file)."""
        for key in keys:
            if not isinstance(key, str | bytes | int | float | bool | tuple | Global | type(None)):
                self.refuse(f"a dict key or set member of type {type(key).__name__}")
        return keys

    def make_global(self, module: str, name: str) -> Global:
        module = "builtins" if module == "__builtin__" else module  # protocol 2 writes Python 2's name
        if f"{module}.{name}" not in self.allowed:
            self.refuse(f"a reference to {module}.{name}, not among the names such a checkpoint uses")
        return Global(module, name)

    def stack_global(self, arg: Any, pos: int) -> None:
        module, name = self.pop_n(2)
        if not isinstance(module, str) or not isinstance(name, str):
            self.refuse("a STACK_GLOBAL on values that are not names")
        self.push(self.make_global(module, name))

    def reduce(self, arg: Any, pos: int) -> None:
        function, args = self.pop_n(2)
        if not isinstance(function, Global) or not isinstance(args, tuple):
            self.refuse("a call (REDUCE) of something that is not a named class or function")
        self.push(self.call(str(function), function, args))

    def call(self, name: str, function: Global, args: tuple) -> Any:
        """What the few functions torch's files call would return, computed here as data; any other allowed name
        is a class, recorded as an ``Object`` that is never made."""
        if name == REBUILD_TENSOR:
            return self.tensor(args)
        if name == REBUILD_PARAMETER:
            if not args or not isinstance(args[0], TensorRef):
                self.refuse("a parameter built from something that is not a tensor")
            return args[0]
        if name in ("collections.OrderedDict", "collections.defaultdict"):
            return {}  # items follow (SETITEMS); a defaultdict's factory is dropped with its behaviour
        if name == "builtins.set":  # how protocol 2 writes a set: set(list of members)
            if len(args) > 1 or (args and not isinstance(args[0], list)):
                self.refuse("a set made from something that is not a list")
            return set(self.hashable(args[0] if args else []))
        if name == "_codecs.encode":  # how protocol 2 writes bytes
            if len(args) != 2 or not isinstance(args[0], str) or args[1] != "latin1":
                self.refuse("an _codecs.encode call other than the one that writes bytes")
            return args[0].encode("latin1")
        return Object(function, args)

    def tensor(self, args: tuple) -> TensorRef:
        if len(args) < 4 or not isinstance(args[0], Storage) or not isinstance(args[1], int):
            self.refuse("a tensor built from something that is not a storage")
        storage, offset, shape, stride = args[:4]
        if not all(isinstance(v, tuple) and all(type(n) is int for n in v) for v in (shape, stride)):
            self.refuse("a tensor whose shape or stride is not a tuple of integers")
        return TensorRef(storage, offset, shape, stride)

    def new_object(self, cls: Any, args: Any) -> None:
        if not isinstance(cls, Global) or not isinstance(args, tuple):
            self.refuse("an object (NEWOBJ) of something that is not a named class")
        self.push(Object(cls, args))

    def build(self, arg: Any, pos: int) -> None:
        state = self.pop()
        target = self.top()
        if isinstance(target, Object) and target.state is None:
            target.state = state
        elif not isinstance(target, dict) or not isinstance(state, dict):
            self.refuse(f"a state set (BUILD) on a {type(target).__name__}")
        # a dict's own attributes (an OrderedDict state dict's `_metadata`, the modules' versions) are dropped

    def persistent(self, pid: Any) -> Any:
        """torch's persistent ids: a storage, or (in files of whole modules) a module's class."""
        if isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage":
            return self.storage(pid)
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] == "module" and isinstance(pid[1], Global):
            return pid[1]  # the class; its source text (pid[2:]) is only what torch compares on loading
        self.refuse("a persistent id that is neither a storage nor a module's class")

    def storage(self, pid: tuple) -> Storage:
        _, kind, key, _location, numel, *view = pid
        dtype = STORAGE_DTYPES.get(str(kind)) if isinstance(kind, Global) else None
        if dtype is None or not isinstance(key, str) or type(numel) is not int or numel < 0:
            self.refuse(f"a storage of type {kind}")
        if view and view[0] is not None:
            self.refuse(f"a view of storage {key} (this reader reads whole storages only)")
        storage = Storage(key, dtype, numel)
        if self.storages.setdefault(key, storage) != storage:
            self.refuse(f"storage {key} described twice, differently")
        return storage


# opcodes whose argument is the value pushed (strings, bytes, numbers)
CONSTANT_OPCODES: tuple[str, ...] = (
    "BININT",
    "BININT1",
    "BININT2",
    "LONG1",
    "LONG4",
    "BINFLOAT",
    "BINUNICODE",
    "SHORT_BINUNICODE",
)
CONSTANT_OPCODES += ("BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8")
