#!/usr/bin/python3
"""A gRPC server reflection client with Python grpcio (Debian python3-grpcio).

For test/reflection-grpc.test.ts. Like grpcurl would: over one
ServerReflectionInfo stream (grpc.reflection.v1) it lists the services, asks
for the file containing each one, loads every returned FileDescriptorProto
into a fresh protobuf DescriptorPool (which validates names, types and
imports), and reports each service's methods from that pool.

The reflection messages themselves are built from a FileDescriptorSet
(Debian ships no grpcio-reflection package).

Usage: python_reflection_client.py --port N --descriptor-set FILE
Prints JSON: {"services": [...], "files": [...], "methods": {service: [{...}]}}.
"""

import argparse
import json

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def message_class(pool, name):
    desc = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--descriptor-set", required=True)
    args = parser.parse_args()

    own = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(open(args.descriptor_set, "rb").read()).file:
        own.Add(f)
    Request = message_class(own, "grpc.reflection.v1.ServerReflectionRequest")
    Response = message_class(own, "grpc.reflection.v1.ServerReflectionResponse")

    with grpc.insecure_channel("127.0.0.1:" + args.port) as channel:
        info = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=Request.SerializeToString,
            response_deserializer=Response.FromString,
        )
        # No authorization metadata: reflection needs no token.
        first = list(info(iter([Request(list_services="")]), timeout=20))
        services = [s.name for s in first[0].list_services_response.service]
        responses = list(info(iter([Request(file_containing_symbol=s) for s in services]), timeout=20))

    pool = descriptor_pool.DescriptorPool()
    protos = {}
    for r in responses:
        if r.WhichOneof("message_response") != "file_descriptor_response":
            raise SystemExit("unexpected answer: %s" % r)
        for raw in r.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
            protos.setdefault(fd.name, fd)

    added = set()

    def add(name):
        if name in added:
            return
        for dep in protos[name].dependency:
            add(dep)
        pool.Add(protos[name])
        added.add(name)

    for name in protos:
        add(name)

    methods = {}
    for s in services:
        desc = pool.FindServiceByName(s)
        methods[s] = [
            {
                "name": m.name,
                "input": m.input_type.full_name,
                "output": m.output_type.full_name,
            }
            for m in desc.methods
        ]
    print(json.dumps({"services": services, "files": sorted(protos), "methods": methods}))


if __name__ == "__main__":
    main()
