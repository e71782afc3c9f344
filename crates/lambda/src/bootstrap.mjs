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

function context(requestId, deadlineMs) {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME || "",
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION || "$LATEST",
    invokedFunctionArn: env.LETSDATA_FUNCTION_ARN || "",
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || "",
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || "",
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME || "",
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: () => {},
    succeed: () => {},
    fail: () => {},
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

function send(value) {
  const body = Buffer.from(JSON.stringify(value === undefined ? null : value), "utf8");
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  socket.write(Buffer.concat([header, body]));
}

let buffered = Buffer.alloc(0);
const queue = [];
let wake = null;
socket.on("data", (chunk) => {
  buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
  while (buffered.length >= 4) {
    const length = buffered.readUInt32BE(0);
    if (buffered.length < 4 + length) break;
    queue.push(buffered.subarray(4, 4 + length));
    buffered = buffered.subarray(4 + length);
  }
  if (wake && queue.length) {
    const w = wake;
    wake = null;
    w();
  }
});
socket.on("end", () => process.exit(0));
socket.on("error", () => process.exit(0));

async function next() {
  while (queue.length === 0) {
    await new Promise((resolve) => (wake = resolve));
  }
  return queue.shift();
}

socket.on("connect", async () => {
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    send({ loadError: errorOf(e) });
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
