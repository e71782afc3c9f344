#!/usr/bin/env python3
"""Generates a small web crawl in the spirit of Common Crawl: one WARC file (requests and
responses), one WAT file (metadata) and one WET file (extracted text), gzip-compressed, each
starting with a warcinfo record.

    python3 make_input.py --pages 40 --out input --name crawl-00000

Every 10th page (i % 10 == 3) is a redirect: its response is a 301 and the WET file has no
conversion for it. Every 10th page (i % 10 == 7) has WAT metadata that is not valid JSON.
The manifest line for the files is printed at the end.
"""

import argparse
import gzip
import json
import os
import uuid


def record(rtype, uri, payload, extra=""):
    body = payload.encode()
    head = (
        "WARC/1.0\r\n"
        f"WARC-Type: {rtype}\r\n"
        + (f"WARC-Target-URI: {uri}\r\n" if uri else "")
        + f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, rtype + (uri or ''))}>\r\n"
        + extra
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body + b"\r\n\r\n"


def warcinfo(name):
    return record("warcinfo", None, f"software: letsdata example generator\r\nfilename: {name}\r\n")


def page(i):
    uri = f"http://example.com/page/{i}"
    redirect = i % 10 == 3
    bad_meta = i % 10 == 7
    title = f"Page {i}"
    links = [f"http://example.com/page/{(i * 7 + k) % 1000}" for k in range(i % 4 + 1)]
    text = f"{title}. This page talks about topic {i % 13} and links to {len(links)} pages."
    html = (
        f"<html><head><title>{title}</title></head><body><p>{text}</p>"
        + "".join(f'<a href="{l}">{l}</a>' for l in links)
        + "</body></html>"
    )
    request = record("request", uri, f"GET /page/{i} HTTP/1.1\r\nHost: example.com\r\n")
    if redirect:
        status_line = "HTTP/1.1 301 Moved Permanently\r\nLocation: http://example.com/\r\n\r\n"
        response = record("response", uri, status_line)
    else:
        response = record("response", uri, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + html)
    meta = {
        "Envelope": {
            "WARC-Header-Metadata": {"WARC-Target-URI": uri},
            "Payload-Metadata": {
                "HTTP-Response-Metadata": {
                    "Response-Message": {"Status": "301" if redirect else "200"},
                    "HTML-Metadata": {"Head": {"Title": title}, "Links": [{"url": l} for l in links]},
                }
            },
        }
    }
    meta_text = json.dumps(meta, separators=(",", ":"))
    if bad_meta:
        meta_text = meta_text[: len(meta_text) // 2]
    metadata = record("metadata", uri, meta_text)
    conversion = None if redirect else record("conversion", uri, text)
    return request + response, metadata, conversion


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out", default="input")
    ap.add_argument("--name", default="crawl-00000")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    warc, wat, wet = [], [], []
    for kind, parts in (("warc", warc), ("wat", wat), ("wet", wet)):
        parts.append(warcinfo(f"{args.name}.{kind}.gz"))
    for i in range(args.start, args.start + args.pages):
        w, m, c = page(i)
        warc.append(w)
        wat.append(m)
        if c:
            wet.append(c)
    for kind, parts in (("warc", warc), ("wat", wat), ("wet", wet)):
        with open(os.path.join(args.out, f"{args.name}.{kind}.gz"), "wb") as f:
            # One gzip member per record, as WARC files are written.
            for p in parts:
                f.write(gzip.compress(p, mtime=0))
    print(f"WARC:{args.name}.warc.gz|WAT:{args.name}.wat.gz|WET:{args.name}.wet.gz")


if __name__ == "__main__":
    main()
