// letsdata's Node.js bootstrap: loads a LetsData Lambda handler (an ES module or CommonJS
// file) once and answers requests over a Unix socket (LETSDATA_HANDLER_SOCKET), so the
// handler's own stdout and stderr stay free for its console output (they go to the task log).
//
// Frames both ways: a 4-byte big-endian length, then UTF-8 JSON.
//   first frame out: {"ready": true} or {"loadError": {errorType, errorMessage, stackTrace}}
//   each frame in:   {"event": {...}, "deadlineMs": <epoch ms>}
//   each frame out:  {"result": <the handler's return value>}
//                  | {"error": {errorType, errorMessage, stackTrace}} (thrown out of the handler)
import net from "node:net";
import path from "node:path";
import fs from "node:fs";
import { pathToFileURL } from "node:url";

function errorOf(e) {
  if (e instanceof Error) {
    return { errorType: e.name, errorMessage: e.message, stackTrace: String(e.stack || "") };
  }
  return { errorType: typeof e, errorMessage: String(e), stackTrace: "" };
}

// What every call's context shares, read from the environment once (it does not change).
const env = process.env;
const shared = {
  functionName: env.AWS_LAMBDA_FUNCTION_NAME || "",
  functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION || "$LATEST",
  invokedFunctionArn: env.LETSDATA_FUNCTION_ARN || "",
  memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || "",
  logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || "",
  logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME || "",
};
const noop = () => {};

function context(requestId, deadlineMs) {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: shared.functionName,
    functionVersion: shared.functionVersion,
    invokedFunctionArn: shared.invokedFunctionArn,
    memoryLimitInMB: shared.memoryLimitInMB,
    awsRequestId: requestId,
    logGroupName: shared.logGroupName,
    logStreamName: shared.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: noop,
    succeed: noop,
    fail: noop,
  };
}

async function loadHandler() {
  const root = process.env.LAMBDA_TASK_ROOT;
  const spec = process.env._HANDLER;
  const dot = spec.lastIndexOf(".");
  const moduleName = spec.slice(0, dot);
  const functionName = spec.slice(dot + 1);
  let file = null;
  for (const ext of [".mjs", ".js", ".cjs"]) {
    const candidate = path.join(root, moduleName + ext);
    if (fs.existsSync(candidate)) {
      file = candidate;
      break;
    }
  }
  if (file === null) {
    throw new Error(`the handler module ${moduleName} (.mjs, .js or .cjs) is not in the project`);
  }
  const module = await import(pathToFileURL(file).href);
  const handler = module[functionName] ?? module.default?.[functionName];
  if (typeof handler !== "function") {
    throw new Error(`${path.basename(file)} does not export a function ${functionName}`);
  }
  return handler;
}

function call(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, value) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(value);
    };
    try {
      const returned = handler(event, ctx, callback);
      if (returned && typeof returned.then === "function") {
        returned.then(
          (v) => callback(null, v),
          (e) => callback(e ?? new Error("the handler's promise was rejected"))
        );
      } else if (handler.length < 3) {
        callback(null, returned);
      }
    } catch (e) {
      callback(e);
    }
  });
}

const socket = net.createConnection(process.env.LETSDATA_HANDLER_SOCKET);
socket.setNoDelay(true);

// Answers are collected and written together when no whole request is left to answer: one
// write per batch of records, not per record.
let pending = [];
function send(value) {
  const body = Buffer.from(JSON.stringify(value === undefined ? null : value), "utf8");
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  pending.push(header, body);
}

function flush() {
  if (pending.length) {
    socket.write(Buffer.concat(pending));
    pending = [];
  }
}

// Requests arrive in chunks; a frame's bytes are joined once it is whole.
let chunks = [];
let chunked = 0;
const queue = [];
let head = 0;
let wake = null;
function take(n) {
  const joined = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, chunked);
  chunks = joined.length > n ? [joined.subarray(n)] : [];
  chunked -= n;
  return joined.subarray(0, n);
}
socket.on("data", (chunk) => {
  chunks.push(chunk);
  chunked += chunk.length;
  for (;;) {
    if (chunked < 4) break;
    if (chunks[0].length < 4) chunks = [Buffer.concat(chunks, chunked)];
    const length = chunks[0].readUInt32BE(0);
    if (chunked < 4 + length) break;
    queue.push(take(4 + length).subarray(4));
  }
  if (wake && head < queue.length) {
    const w = wake;
    wake = null;
    w();
  }
});
socket.on("end", () => process.exit(0));
socket.on("error", () => process.exit(0));

async function next() {
  while (head === queue.length) {
    // Nothing left to answer: the answers so far go out before the wait.
    flush();
    queue.length = 0;
    head = 0;
    await new Promise((resolve) => (wake = resolve));
  }
  const frame = queue[head];
  queue[head++] = undefined;
  return frame;
}

socket.on("connect", async () => {
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    send({ loadError: errorOf(e) });
    flush();
    socket.end(() => process.exit(1));
    return;
  }
  send({ ready: true });
  for (;;) {
    const request = JSON.parse((await next()).toString("utf8"));
    const event = request.event;
    const requestId = event && typeof event === "object" ? String(event.requestId ?? "") : "";
    try {
      const result = await call(handler, event, context(requestId, request.deadlineMs || 0));
      let reply;
      try {
        reply = { result: result === undefined ? null : result };
        send(reply);
      } catch (e) {
        send({ error: errorOf(new TypeError("the handler returned a value JSON cannot hold: " + e.message)) });
      }
    } catch (e) {
      send({ error: errorOf(e) });
    }
  }
});
