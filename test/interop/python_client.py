#!/usr/bin/python3
"""gRPC interop test cases with Python grpcio (Debian python3-grpcio).

An independent client for test/interop-python.test.ts: the C-core based
grpcio library, with message classes built at run time from a
FileDescriptorSet (Debian ships no grpcio-tools that matches its protobuf,
so there is no generated Python code). Follows grpc/grpc
doc/interop-test-descriptions.md and grpc's own Python interop client
(src/python/grpcio_tests/tests/interop/methods.py).

Limits of the library, not of the server:
- grpcio cannot see the compressed flag of received messages, so the
  server_compressed_* cases assert sizes only (test/interop-wire.test.ts
  checks the flags);
- grpcio compresses a whole call or nothing, so in client_compressed_streaming
  the second message (expect_compressed false) is compressed too, which the
  description allows the server to accept.

Usage: python_client.py --port N --token T --descriptor-set FILE --cases a,b,c
Prints one JSON array: [{"case": name, "ok": bool, "error": str}, ...].
"""

import argparse
import json
import threading
import traceback

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
CLIENT_SIZES = (27182, 8, 1828, 45904)
SERVER_SIZES = (31415, 9, 2653, 58979)
CALL_TIMEOUT = 20  # seconds; every call but timeout_on_sleeping_server's


def load_classes(path):
    fds = descriptor_pb2.FileDescriptorSet.FromString(open(path, "rb").read())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)

    def cls(name):
        desc = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(pool).GetPrototype(desc)

    return cls


class Pipe:
    """A request iterator fed from the test, as in grpc's methods.py."""

    def __init__(self):
        self._condition = threading.Condition()
        self._values = []
        self._open = True

    def __iter__(self):
        return self

    def __next__(self):
        with self._condition:
            while not self._values and self._open:
                self._condition.wait()
            if self._values:
                return self._values.pop(0)
            raise StopIteration()

    def add(self, value):
        with self._condition:
            self._values.append(value)
            self._condition.notify()

    def close(self):
        with self._condition:
            self._open = False
            self._condition.notify()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Stub:
    def __init__(self, channel, cls):
        self.Empty = cls("grpc.testing.Empty")
        self.SimpleRequest = cls("grpc.testing.SimpleRequest")
        self.SimpleResponse = cls("grpc.testing.SimpleResponse")
        self.InReq = cls("grpc.testing.StreamingInputCallRequest")
        self.InRes = cls("grpc.testing.StreamingInputCallResponse")
        self.OutReq = cls("grpc.testing.StreamingOutputCallRequest")
        self.OutRes = cls("grpc.testing.StreamingOutputCallResponse")

        def m(kind, path, req, res):
            return getattr(channel, kind)(
                path, request_serializer=req.SerializeToString, response_deserializer=res.FromString
            )

        t = "/grpc.testing.TestService/"
        self.EmptyCall = m("unary_unary", t + "EmptyCall", self.Empty, self.Empty)
        self.UnaryCall = m("unary_unary", t + "UnaryCall", self.SimpleRequest, self.SimpleResponse)
        self.StreamingOutputCall = m("unary_stream", t + "StreamingOutputCall", self.OutReq, self.OutRes)
        self.StreamingInputCall = m("stream_unary", t + "StreamingInputCall", self.InReq, self.InRes)
        self.FullDuplexCall = m("stream_stream", t + "FullDuplexCall", self.OutReq, self.OutRes)
        self.UnimplementedCall = m("unary_unary", t + "UnimplementedCall", self.Empty, self.Empty)
        self.UnimplementedService = m(
            "unary_unary", "/grpc.testing.UnimplementedService/UnimplementedCall", self.Empty, self.Empty
        )


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(fn, code, details=None):
    try:
        fn()
    except grpc.RpcError as e:
        expect(e.code() == code, "expected %s, got %s: %s" % (code, e.code(), e.details()))
        if details is not None:
            expect(e.details() == details, "expected details %r, got %r" % (details, e.details()))
        return e
    raise AssertionError("expected the call to fail with %s" % code)


def body_sizes(responses):
    return [len(r.payload.body) for r in responses]


def large_request(s, **kw):
    return s.SimpleRequest(response_size=314159, payload={"body": b"\0" * 271828}, **kw)


def check_large(response):
    expect(len(response.payload.body) == 314159, "response payload is 314159 bytes")
    expect(response.payload.body == b"\0" * 314159, "response payload is zeros")


def empty_unary(s, md):
    response = s.EmptyCall(s.Empty(), metadata=md, timeout=CALL_TIMEOUT)
    expect(response is not None, "response is non-null")


def large_unary(s, md):
    check_large(s.UnaryCall(large_request(s), metadata=md, timeout=CALL_TIMEOUT))


def client_compressed_unary(s, md):
    expect_error(
        lambda: s.UnaryCall(
            large_request(s, expect_compressed={"value": True}), metadata=md, timeout=CALL_TIMEOUT
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    check_large(
        s.UnaryCall(
            large_request(s, expect_compressed={"value": True}),
            metadata=md,
            timeout=CALL_TIMEOUT,
            compression=grpc.Compression.Gzip,
        )
    )
    check_large(
        s.UnaryCall(large_request(s, expect_compressed={"value": False}), metadata=md, timeout=CALL_TIMEOUT)
    )


def server_compressed_unary(s, md):
    for value in (True, False):
        check_large(
            s.UnaryCall(
                large_request(s, response_compressed={"value": value}), metadata=md, timeout=CALL_TIMEOUT
            )
        )


def client_streaming(s, md):
    reqs = [s.InReq(payload={"body": b"\0" * n}) for n in CLIENT_SIZES]
    response = s.StreamingInputCall(iter(reqs), metadata=md, timeout=CALL_TIMEOUT)
    expect(response.aggregated_payload_size == 74922, "aggregated_payload_size is 74922")


def client_compressed_streaming(s, md):
    first = s.InReq(expect_compressed={"value": True}, payload={"body": b"\0" * 27182})
    expect_error(
        lambda: s.StreamingInputCall(iter([first]), metadata=md, timeout=CALL_TIMEOUT),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    second = s.InReq(expect_compressed={"value": False}, payload={"body": b"\0" * 45904})
    response = s.StreamingInputCall(
        iter([first, second]), metadata=md, timeout=CALL_TIMEOUT, compression=grpc.Compression.Gzip
    )
    expect(response.aggregated_payload_size == 73086, "aggregated_payload_size is 73086")


def server_streaming(s, md):
    req = s.OutReq(response_parameters=[{"size": n} for n in SERVER_SIZES])
    responses = list(s.StreamingOutputCall(req, metadata=md, timeout=CALL_TIMEOUT))
    expect(body_sizes(responses) == list(SERVER_SIZES), "sizes %s" % body_sizes(responses))
    expect(all(r.payload.body == b"\0" * len(r.payload.body) for r in responses), "zeros")


def server_compressed_streaming(s, md):
    req = s.OutReq(
        response_parameters=[
            {"compressed": {"value": True}, "size": 31415},
            {"compressed": {"value": False}, "size": 92653},
        ]
    )
    responses = list(s.StreamingOutputCall(req, metadata=md, timeout=CALL_TIMEOUT))
    expect(body_sizes(responses) == [31415, 92653], "sizes %s" % body_sizes(responses))


def ping_pong(s, md):
    with Pipe() as pipe:
        responses = s.FullDuplexCall(pipe, metadata=md, timeout=CALL_TIMEOUT)
        for req_size, res_size in zip(CLIENT_SIZES, SERVER_SIZES):
            pipe.add(s.OutReq(response_parameters=[{"size": res_size}], payload={"body": b"\0" * req_size}))
            response = next(responses)
            expect(len(response.payload.body) == res_size, "response of %d bytes" % res_size)
        pipe.close()
        expect(list(responses) == [], "exactly four responses")


def empty_stream(s, md):
    with Pipe() as pipe:
        responses = s.FullDuplexCall(pipe, metadata=md, timeout=CALL_TIMEOUT)
        pipe.close()
        expect(list(responses) == [], "zero responses")


def custom_metadata(s, md):
    initial = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
    trailing = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")
    echo = md + [initial, trailing]

    def check(call):
        expect(dict(call.initial_metadata()).get(initial[0]) == initial[1], "initial metadata echoed")
        expect(dict(call.trailing_metadata()).get(trailing[0]) == trailing[1], "trailing metadata echoed")

    response, call = s.UnaryCall.with_call(large_request(s), metadata=echo, timeout=CALL_TIMEOUT)
    check_large(response)
    check(call)
    with Pipe() as pipe:
        responses = s.FullDuplexCall(pipe, metadata=echo, timeout=CALL_TIMEOUT)
        pipe.add(s.OutReq(response_parameters=[{"size": 314159}], payload={"body": b"\0" * 271828}))
        pipe.close()
        expect(body_sizes(list(responses)) == [314159], "one response of 314159 bytes")
        check(responses)


def status_code_and_message(s, md):
    status = {"code": 2, "message": "test status message"}
    expect_error(
        lambda: s.UnaryCall(s.SimpleRequest(response_status=status), metadata=md, timeout=CALL_TIMEOUT),
        grpc.StatusCode.UNKNOWN,
        "test status message",
    )
    with Pipe() as pipe:
        responses = s.FullDuplexCall(pipe, metadata=md, timeout=CALL_TIMEOUT)
        pipe.add(s.OutReq(response_status=status))
        pipe.close()
        expect_error(lambda: next(responses), grpc.StatusCode.UNKNOWN, "test status message")


def special_status_message(s, md):
    status = {"code": 2, "message": SPECIAL_MESSAGE}
    expect_error(
        lambda: s.UnaryCall(s.SimpleRequest(response_status=status), metadata=md, timeout=CALL_TIMEOUT),
        grpc.StatusCode.UNKNOWN,
        SPECIAL_MESSAGE,
    )


def unimplemented_method(s, md):
    expect_error(
        lambda: s.UnimplementedCall(s.Empty(), metadata=md, timeout=CALL_TIMEOUT),
        grpc.StatusCode.UNIMPLEMENTED,
    )


def unimplemented_service(s, md):
    expect_error(
        lambda: s.UnimplementedService(s.Empty(), metadata=md, timeout=CALL_TIMEOUT),
        grpc.StatusCode.UNIMPLEMENTED,
    )


def cancel_after_begin(s, md):
    with Pipe() as pipe:
        future = s.StreamingInputCall.future(pipe, metadata=md, timeout=CALL_TIMEOUT)
        future.cancel()
        expect(future.cancelled(), "future reports cancelled")
        expect(future.code() == grpc.StatusCode.CANCELLED, "status CANCELLED, got %s" % future.code())


def cancel_after_first_response(s, md):
    with Pipe() as pipe:
        responses = s.FullDuplexCall(pipe, metadata=md, timeout=CALL_TIMEOUT)
        pipe.add(s.OutReq(response_parameters=[{"size": 31415}], payload={"body": b"\0" * 27182}))
        expect(len(next(responses).payload.body) == 31415, "first response of 31415 bytes")
        responses.cancel()
        expect_error(lambda: next(responses), grpc.StatusCode.CANCELLED)


def timeout_on_sleeping_server(s, md):
    with Pipe() as pipe:
        responses = s.FullDuplexCall(pipe, metadata=md, timeout=0.001)
        pipe.add(s.OutReq(payload={"body": b"\0" * 27182}))
        expect_error(lambda: next(responses), grpc.StatusCode.DEADLINE_EXCEEDED)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--descriptor-set", required=True)
    parser.add_argument("--cases", required=True)
    args = parser.parse_args()
    cls = load_classes(args.descriptor_set)
    md = [("authorization", "Bearer " + args.token)]
    results = []
    with grpc.insecure_channel("127.0.0.1:" + args.port) as channel:
        stub = Stub(channel, cls)
        for name in args.cases.split(","):
            try:
                globals()[name](stub, md)
                results.append({"case": name, "ok": True, "error": ""})
            except Exception:  # noqa: BLE001 - every failure is reported, none stops the run
                results.append({"case": name, "ok": False, "error": traceback.format_exc()})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
