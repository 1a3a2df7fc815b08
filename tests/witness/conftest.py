"""Fixtures for the witness tests: a real registry log on the shared database fixtures, and a
real witness served by uvicorn on a free 127.0.0.1 port in a thread."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.witness import create_witness_app
from registry.accounts import accounts
from registry.context import RegistryContext
from registry.db import make_session_factory, transaction
from registry.models import Account, Role
from registry.operations.bootstrap import bootstrap, operator
from registry.records import keys as key_service
from registry.settings import Settings
from registry.transparency import log as log_service
from registry.transparency.witness import Witness
from tests.support import bound_socket, serve_in_thread


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port()


@contextlib.contextmanager
def serve_witness_in_thread(witness: Witness, port: int) -> Iterator[str]:
    """Run ``witness`` over HTTP on 127.0.0.1:``port`` until the block ends; yield its URL."""
    with serve_in_thread(create_witness_app(witness), bound_socket(port)) as url:
        yield url


@dataclass
class RegistryLog:
    """A bootstrapped registry (genesis checkpoint of size 1) and a way to append to it."""

    factory: sessionmaker[Session]
    ctx: RegistryContext
    account: Account

    def write(self, count: int = 1) -> int:
        """Append ``count`` key-registration records, one transaction and checkpoint each."""
        for _ in range(count):
            with transaction(self.factory) as session:
                account = session.get_one(Account, self.account.id)
                key_service.create_custodial_key(session, self.ctx, account)
        return self.size()

    def size(self) -> int:
        with self.factory() as session:
            return log_service.latest_checkpoint(session).size

    @property
    def vkey(self) -> str:
        return log_service.log_vkey(self.ctx)

    def bound_to(self, factory: sessionmaker[Session], ctx: RegistryContext) -> RegistryLog:
        """The same log written through another session factory and context (an app's)."""
        return RegistryLog(factory, ctx, self.account)


def make_registry_log(factory: sessionmaker[Session], settings: Settings) -> RegistryLog:
    ctx = bootstrap(factory, settings)
    with transaction(factory) as session:
        account = accounts.create_account(
            session,
            organization=operator(session),
            username="witness-test-clerk",
            role=Role.CLERK,
            name_zh="测试",
        )
    return RegistryLog(factory, ctx, account)


@pytest.fixture
def registry_log(db: Engine, settings: Settings) -> RegistryLog:
    return make_registry_log(make_session_factory(db), settings)


@pytest.fixture
def run_witness():  # type: ignore[no-untyped-def]
    """``run_witness(witness, port)``: a context manager serving the witness over HTTP."""
    return serve_witness_in_thread
