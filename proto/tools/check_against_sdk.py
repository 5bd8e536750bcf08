#!/usr/bin/env python3
"""Cross-check tusk's protos against the betterproto stubs of pachyderm-sdk 2.12.2.

Compares, for every message, enum and service the SDK defines in the packages
auth_v2, identity_v2, enterprise_v2, license_v2 and versionpb_v2, what goes on
the wire: message and enum names, field numbers, names, scalar types, labels
(repeated/map), referenced message/enum types, enum value numbers, gRPC method
paths and their request/response types. Extra definitions on our side are
reported too.

Usage (the descriptor set is written by crates/tusk-proto's build script):

    python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install pachyderm-sdk==2.12.2
    cargo build -p tusk-proto
    /tmp/sdkvenv/bin/python proto/tools/check_against_sdk.py \
        target/debug/build/tusk-proto-*/out/tusk_descriptor.bin

Exits 1 on any difference.
"""
import dataclasses
import datetime
import importlib
import inspect
import re
import sys

import betterproto
import betterproto.lib.google.protobuf as g
from betterproto.casing import pascal_case, snake_case

MODULES = {
    "auth": "auth_v2",
    "identity": "identity_v2",
    "enterprise": "enterprise_v2",
    "license": "license_v2",
    "version": "versionpb_v2",
}

# FieldDescriptorProto.Type -> betterproto proto_type
SCALARS = {
    g.FieldDescriptorProtoType.TYPE_STRING: "string",
    g.FieldDescriptorProtoType.TYPE_BOOL: "bool",
    g.FieldDescriptorProtoType.TYPE_INT64: "int64",
    g.FieldDescriptorProtoType.TYPE_UINT32: "uint32",
    g.FieldDescriptorProtoType.TYPE_INT32: "int32",
    g.FieldDescriptorProtoType.TYPE_UINT64: "uint64",
    g.FieldDescriptorProtoType.TYPE_BYTES: "bytes",
    g.FieldDescriptorProtoType.TYPE_ENUM: "enum",
    g.FieldDescriptorProtoType.TYPE_MESSAGE: "message",
}
LABEL_REPEATED = g.FieldDescriptorProtoLabel.LABEL_REPEATED

errors = []


def err(msg):
    errors.append(msg)
    print("MISMATCH:", msg)


def sdk_type_name(cls, package_of):
    """Fully qualified proto name of an SDK class (message or enum)."""
    if cls is datetime.datetime:
        return ".google.protobuf.Timestamp"
    if cls is datetime.timedelta:
        return ".google.protobuf.Duration"
    mod = cls.__module__
    if mod.startswith("betterproto.lib.google.protobuf"):
        return ".google.protobuf." + cls.__name__
    pkg = package_of[mod]
    return f".{pkg}.{cls.__name__}"


def main(path):
    fds = g.FileDescriptorSet().parse(open(path, "rb").read())
    # python-style (pascal-cased, nested flattened) fq name -> (proto fq name, descriptor)
    ours_msgs, ours_enums, ours_svcs = {}, {}, {}

    def walk(pkg, prefix_proto, prefix_py, msgs, enums):
        for e in enums:
            ours_enums[f".{pkg}.{prefix_py}{pascal_case(e.name)}"] = (
                f".{pkg}.{prefix_proto}{e.name}", e)
        for m in msgs:
            py = f"{prefix_py}{pascal_case(m.name)}"
            proto = f"{prefix_proto}{m.name}"
            if m.options and m.options.map_entry:
                continue
            ours_msgs[f".{pkg}.{py}"] = (f".{pkg}.{proto}", m)
            walk(pkg, proto + ".", py, m.nested_type, m.enum_type)

    proto_to_py = {}
    for f in fds.file:
        if f.package not in MODULES.values():
            continue
        walk(f.package, "", "", f.message_type, f.enum_type)
        for s in f.service:
            for meth in s.method:
                ours_svcs[f"/{f.package}.{s.name}/{meth.name}"] = meth
    for py, (proto, _) in list(ours_msgs.items()) + list(ours_enums.items()):
        proto_to_py[proto] = py

    # All message descriptors by proto fq name (for map entries).
    all_msgs = {}

    def collect(pkg, prefix, msgs):
        for m in msgs:
            all_msgs[f".{pkg}.{prefix}{m.name}"] = m
            collect(pkg, f"{prefix}{m.name}.", m.nested_type)

    for f in fds.file:
        collect(f.package, "", f.message_type)

    package_of = {f"pachyderm_sdk.api.{m}": p for m, p in MODULES.items()}
    seen_msgs, seen_enums, seen_svcs = set(), set(), set()
    for mod_name, pkg in MODULES.items():
        mod = importlib.import_module(f"pachyderm_sdk.api.{mod_name}")
        for name, obj in vars(mod).items():
            if not inspect.isclass(obj) or obj.__module__ != mod.__name__:
                continue
            key = f".{pkg}.{name}"
            if issubclass(obj, betterproto.Enum):
                seen_enums.add(key)
                if key not in ours_enums:
                    err(f"enum {key} missing")
                    continue
                _, e = ours_enums[key]
                theirs = {v.name: v.value for v in obj}
                mine = {v.name: v.number for v in e.value}
                if theirs != mine:
                    diff = sorted(set(theirs.items()) ^ set(mine.items()))
                    err(f"enum {key}: differs in {diff}")
            elif issubclass(obj, betterproto.Message):
                seen_msgs.add(key)
                if key not in ours_msgs:
                    err(f"message {key} missing")
                    continue
                proto_name, m = ours_msgs[key]
                meta = obj()._betterproto
                our_fields = {fd.number: fd for fd in m.field}
                sdk_numbers = set()
                for f in dataclasses.fields(obj):
                    md = f.metadata.get("betterproto")
                    if md is None:
                        continue
                    sdk_numbers.add(md.number)
                    where = f"{proto_name}.{f.name}={md.number}"
                    fd = our_fields.get(md.number)
                    if fd is None:
                        err(f"{where}: missing")
                        continue
                    if snake_case(fd.name) != f.name:
                        err(f"{where}: our name {fd.name}")
                    if md.proto_type == "map":
                        entry = all_msgs.get(fd.type_name)
                        if entry is None or not (entry.options and entry.options.map_entry):
                            err(f"{where}: ours is not a map")
                            continue
                        k, v = entry.field[0], entry.field[1]
                        kt, vt = SCALARS.get(k.type), SCALARS.get(v.type)
                        if (kt, vt) != md.map_types:
                            err(f"{where}: map types sdk {md.map_types} ours {(kt, vt)}")
                        if vt in ("message", "enum"):
                            want = sdk_type_name(meta.cls_by_field[f.name + ".value"], package_of)
                            if proto_to_py.get(v.type_name, v.type_name) != want:
                                err(f"{where}: map value sdk {want} ours {v.type_name}")
                        continue
                    ours_t = SCALARS.get(fd.type, str(fd.type))
                    if ours_t != md.proto_type:
                        err(f"{where}: type sdk {md.proto_type} ours {ours_t}")
                    sdk_repeated = "List[" in str(f.type)
                    if sdk_repeated != (fd.label == LABEL_REPEATED):
                        err(f"{where}: repeated sdk {sdk_repeated} ours {fd.label}")
                    if md.proto_type in ("message", "enum"):
                        want = sdk_type_name(meta.cls_by_field[f.name], package_of)
                        if proto_to_py.get(fd.type_name, fd.type_name) != want:
                            err(f"{where}: type sdk {want} ours {fd.type_name}")
                    if bool(md.optional) != bool(fd.proto3_optional):
                        err(f"{where}: proto3 optional sdk {md.optional} ours {fd.proto3_optional}")
                    if md.group != (fd.oneof_index if fd.is_set("oneof_index") else None) and md.group:
                        err(f"{where}: oneof group {md.group}")
                for n in our_fields:
                    if n not in sdk_numbers:
                        err(f"{proto_name}: extra field {n} {our_fields[n].name}")
        stub = getattr(mod, "ApiStub", None)
        if stub is not None:
            src = inspect.getsource(stub)
            for mm in re.finditer(
                r'"(/[^"]+)",\s*request_serializer=([\w.]+)\.SerializeToString,'
                r'\s*response_deserializer=([\w.]+)\.FromString', src):
                path_, req, resp = mm.groups()
                seen_svcs.add(path_)
                meth = ours_svcs.get(path_)
                if meth is None:
                    err(f"rpc {path_} missing")
                    continue

                def fq(n):
                    if n.startswith("betterproto_lib_google_protobuf."):
                        return ".google.protobuf." + n.split(".")[-1]
                    return f".{pkg}.{n}"

                for label, sdk_n, ours in (("request", req, meth.input_type),
                                           ("response", resp, meth.output_type)):
                    ours_py = proto_to_py.get(ours, ours)
                    if ours_py != fq(sdk_n):
                        err(f"rpc {path_}: {label} sdk {fq(sdk_n)} ours {ours}")
                if meth.client_streaming or meth.server_streaming:
                    err(f"rpc {path_}: streaming")
    for k in set(ours_msgs) - seen_msgs:
        err(f"message {ours_msgs[k][0]} not in the SDK")
    for k in set(ours_enums) - seen_enums:
        err(f"enum {ours_enums[k][0]} not in the SDK")
    for k in set(ours_svcs) - seen_svcs:
        err(f"rpc {k} not in the SDK")
    print(f"checked {len(seen_msgs)} messages, {len(seen_enums)} enums, {len(seen_svcs)} rpcs; "
          f"{len(errors)} mismatches")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
