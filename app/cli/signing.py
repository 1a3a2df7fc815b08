"""``registry keys generate`` and ``registry sign``: a party's client-held key, used offline."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.base import _, app, fail, keys_app
from registry.errors import RegistryError


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="key file to write (mode 600)")],
) -> None:
    """Generate an Ed25519 key pair into a file; prints the key id and public key."""
    import os

    from registry.crypto.keys import Signer, dump_key_file

    if out.exists():
        fail(_("%(path)s 已存在，不会覆盖密钥") % {"path": out}, 2)
    signer = Signer.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(dump_key_file(signer))
    typer.echo(
        json.dumps(
            {
                "key_id": signer.key_id,
                "public_key": base64.b64encode(signer.public_key_raw).decode(),
            }
        )
    )


def _read_text(path: Path) -> str:
    """The file's text (``-``: standard input), or one ``error:`` line and exit 2."""
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        fail(_("无法读取 %(path)s：%(error)s") % {"path": path, "error": reason}, 2)


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(_("%(path)s：不是 JSON（%(error)s）") % {"path": path, "error": exc}, 2)


@app.command()
def sign(
    record: Annotated[Path, typer.Argument(help="record JSON file, or - for stdin")],
    key: Annotated[Path, typer.Option("--key", "-k", help="key file from 'keys generate'")],
    payload_type: Annotated[str, typer.Option()] = "",
    add_to: Annotated[
        Path | None, typer.Option(help="add a signature to this existing envelope instead")
    ] = None,
) -> None:
    """Sign a record offline: prints a DSSE envelope to post to /api/v1/records."""
    from registry.crypto.dsse import Envelope, add_signature, sign_envelope
    from registry.crypto.jcs import canonicalize
    from registry.crypto.keys import load_key_file
    from registry.records.schema import RECORD_PAYLOAD_TYPE, parse_record

    try:
        signer = load_key_file(_read_text(key))
    except RegistryError as exc:
        fail(_("密钥文件 %(path)s：%(error)s") % {"path": key, "error": exc.detail}, 2)
    try:
        if add_to is not None:
            envelope = add_signature(Envelope.from_json(_read_json(add_to)), signer)
        else:
            document = _read_json(record)
            parse_record(document)  # refuse locally what the registry would refuse
            envelope = sign_envelope(
                payload_type or RECORD_PAYLOAD_TYPE, canonicalize(document), [signer]
            )
    except RegistryError as exc:
        fail(exc.detail, 2)
    typer.echo(json.dumps(envelope.to_json(), indent=2))
