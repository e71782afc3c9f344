// A LetsData JavaScript implementation: the Lambda handler LetsData's JavaScript interface
// package defines (`index.handler`), with a QueueMessageReader for order messages. letsdata runs
// it unchanged: the same requests, the same answers as on LetsData.
import { OrderQueueReader } from "./order_reader.mjs";

const HEADERS = { "Content-Type": "application/json" };
const reader = new OrderQueueReader();

function call(event) {
  const iface = String(event.interface ?? "").toLowerCase();
  if (iface !== "queuemessagereader") {
    throw new Error(`interface not implemented: ${event.interface}`);
  }
  if (event.function !== "parseMessage") {
    throw new Error(`unknown function QueueMessageReader.${event.function}`);
  }
  const d = event.data ?? {};
  return reader.parseMessage(
    d.messageId,
    d.messageGroupId ?? null,
    d.messageDeduplicationId ?? null,
    d.messageAttributes ?? {},
    d.messageBody
  );
}

export const handler = async (event, context) => {
  try {
    if (!["Test", "Prod"].includes(process.env.LETS_DATA_STAGE)) {
      throw new Error("LETS_DATA_STAGE must be Test or Prod");
    }
    const data = call(event);
    if (data.status === "ERROR") {
      console.log(`request ${event.requestId}: ${data.document.errorMessage}`);
    }
    return { StatusCode: 200, headers: HEADERS, body: { statusCode: "SUCCESS", data } };
  } catch (err) {
    return {
      StatusCode: 500,
      headers: HEADERS,
      body: {
        statusCode: "EXCEPTION",
        errorMessage: err.message,
        exception: { errorMessage: err.message, errorType: err.name, stackTrace: String(err.stack) },
      },
    };
  }
};
