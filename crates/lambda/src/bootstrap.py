# letsdata's Python bootstrap: loads a LetsData Lambda handler once and answers requests
# over a Unix socket (LETSDATA_HANDLER_SOCKET), so the handler's own stdout and stderr stay
# free for its prints and logging (they go to the task log).
#
# Frames both ways: a 4-byte big-endian length, then UTF-8 JSON.
#   first frame out: {"ready": true} or {"loadError": {errorType, errorMessage, stackTrace}}
#   each frame in:   {"event": {...}, "deadlineMs": <epoch ms>}
#   each frame out:  {"result": <the handler's return value>}
#                  | {"error": {errorType, errorMessage, stackTrace}} (raised out of the handler)
import importlib
import json
import logging
import os
import socket
import struct
import sys
import time
import traceback


def limit_memory():
    megabytes = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0") or "0")
    if megabytes <= 0:
        return
    try:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError) as e:
        print("letsdata: could not set the memory limit: %s" % e, file=sys.stderr)


class LambdaContext:
    """The Lambda context object a handler receives."""

    # What every call shares, read from the environment once (it does not change).
    _static = None

    def __init__(self, request_id, deadline_ms):
        static = LambdaContext._static
        if static is None:
            env = os.environ
            static = LambdaContext._static = (
                env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
                env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                env.get("LETSDATA_FUNCTION_ARN", ""),
                env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""),
                env.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
                env.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
            )
        (
            self.function_name,
            self.function_version,
            self.invoked_function_arn,
            self.memory_limit_in_mb,
            self.log_group_name,
            self.log_stream_name,
        ) = static
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


def install_logging():
    # Like the Lambda runtime: the root logger prints to stdout, at the dataset's log level.
    level = os.environ.get("LETSDATA_LOG_LEVEL", "WARN").upper()
    level = {"WARN": "WARNING", "TRACE": "DEBUG"}.get(level, level)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(aws_request_id)s\t%(message)s")
    )
    handler.addFilter(RequestIdFilter())
    handler.setLevel(getattr(logging, level, logging.WARNING))
    root = logging.getLogger()
    root.addHandler(handler)


def error_of(e):
    return {
        "errorType": e.__class__.__name__,
        "errorMessage": str(e),
        "stackTrace": "".join(traceback.format_exception(type(e), e, e.__traceback__)),
    }


class Channel:
    """The socket to letsdata: requests read in large chunks, answers collected and sent
    together when no whole request is left to answer (one read and one write per batch of
    records, not per record)."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = bytearray()
        self.pos = 0
        self.out = []

    def send(self, value):
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.out.append(struct.pack(">I", len(data)))
        self.out.append(data)

    def flush(self):
        # What the handler printed goes into its pipes before the answers that follow it (a
        # handler may have replaced or closed sys.stdout: that is not the bootstrap's failure).
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        if self.out:
            self.conn.sendall(b"".join(self.out))
            self.out = []

    def _fill(self, need):
        # Until `need` bytes are buffered past pos; the answers go out before any wait.
        if len(self.buf) - self.pos >= need:
            return True
        self.flush()
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        while len(self.buf) < need:
            chunk = self.conn.recv(max(need - len(self.buf), 1 << 20))
            if not chunk:
                return False
            self.buf += chunk
        return True

    def next_request(self):
        if not self._fill(4):
            return None
        (length,) = struct.unpack_from(">I", self.buf, self.pos)
        if not self._fill(4 + length):
            return None
        start = self.pos + 4
        self.pos = start + length
        return json.loads(bytes(memoryview(self.buf)[start : self.pos]))


def main():
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ["LETSDATA_HANDLER_SOCKET"])
    app = os.environ["LAMBDA_TASK_ROOT"]
    deps = os.environ.get("LETSDATA_PYTHON_DEPS")
    sys.path.insert(0, app)
    if deps:
        sys.path.insert(1, deps)
    limit_memory()
    install_logging()
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    channel = Channel(conn)
    try:
        module = importlib.import_module(module_name)
        handler = getattr(module, function_name)
    except BaseException as e:  # noqa: B036 - a load failure of any kind is reported
        channel.send({"loadError": error_of(e)})
        channel.flush()
        return 1
    channel.send({"ready": True})
    while True:
        request = channel.next_request()
        if request is None:
            channel.flush()
            return 0
        event = request["event"]
        request_id = str(event.get("requestId", "")) if isinstance(event, dict) else ""
        RequestIdFilter.request_id = request_id
        context = LambdaContext(request_id, request.get("deadlineMs", 0))
        try:
            result = handler(event, context)
            reply = {"result": result}
            try:
                channel.send(reply)
            except (TypeError, ValueError) as e:
                channel.send({"error": error_of(TypeError(
                    "the handler returned a value JSON cannot hold: %s" % e))})
        except Exception as e:
            channel.send({"error": error_of(e)})


if __name__ == "__main__":
    sys.exit(main())
