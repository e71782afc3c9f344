"""A LetsData Python implementation: the Lambda handler LetsData's Python interface package
defines (`letsdata_lambda_function.lambda_handler`), with a SingleFileParser for JSON log
lines. letsdata runs it unchanged: the same requests, the same answers as on LetsData."""
import logging
import os
import sys
import traceback

from log_parser import SingleFileParser

logger = logging.getLogger()
logger.setLevel(logging.DEBUG)


def to_json(value):
    """Objects (documents, results, hints) as the plain JSON LetsData reads back."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return {k: to_json(v) for k, v in vars(value).items()}


def call(interface, function, data):
    if interface.lower() != "singlefileparser":
        raise Exception("interface not implemented: " + interface)
    parser = SingleFileParser()
    if function == "getS3FileType":
        return parser.getS3FileType()
    if function == "getResolvedS3FileName":
        return parser.getResolvedS3FileName(data["s3FileType"], data["fileName"])
    if function == "getRecordStartPattern":
        return parser.getRecordStartPattern(data["s3FileType"])
    if function == "getRecordEndPattern":
        return parser.getRecordEndPattern(data["s3FileType"])
    if function == "parseDocument":
        content = bytearray(data["content"], encoding="utf-8")
        if data["startIndex"] != 0 or data["endIndex"] != len(content):
            raise Exception("invalid startIndex / endIndex for the record's content")
        return parser.parseDocument(data["s3FileType"], data["fileName"], data["offsetBytes"],
                                    content, 0, len(content))
    raise Exception("unknown function SingleFileParser." + function)


def lambda_handler(event, context):
    try:
        if os.getenv("LETS_DATA_STAGE") not in ("Test", "Prod"):
            raise Exception("LETS_DATA_STAGE must be Test or Prod")
        logger.debug("request %s: %s.%s", event["requestId"], event["interface"], event["function"])
        result = call(event["interface"], event["function"], event.get("data") or {})
        return {
            "StatusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": {"statusCode": "SUCCESS", "data": to_json(result)},
        }
    except Exception as err:
        return {
            "StatusCode": 500,
            "headers": {"Content-Type": "application/json"},
            "body": {
                "statusCode": "EXCEPTION",
                "errorMessage": str(err),
                "exception": {
                    "errorMessage": str(err),
                    "errorType": err.__class__.__name__,
                    "stackTrace": "".join(traceback.format_exception(*sys.exc_info())),
                },
            },
        }
