"""``registry admin …``: organizations, accounts and API tokens, for the operator."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.base import _, admin_app, err, fail, session_factory
from registry.db import transaction
from registry.errors import RegistryError


@admin_app.command("create-org")
def create_org(
    kind: Annotated[str, typer.Option(help="cooperative, processor, carrier, lab, authority")],
    name_zh: Annotated[str, typer.Option()],
    name_en: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option(help="GB/T 2260 code, e.g. 150430")],
    jurisdiction: Annotated[str | None, typer.Option(help="authorities: region prefix")] = None,
    gln: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Register an organization; prints its id."""
    from registry.accounts import accounts
    from registry.models import OrgKind

    factory = session_factory()[1]
    try:
        with transaction(factory) as session:
            org = accounts.create_organization(
                session,
                kind=OrgKind(kind),
                name_zh=name_zh,
                name_en=name_en,
                region_code=region,
                jurisdiction=jurisdiction,
                gln=gln,
            )
            typer.echo(str(org.id))
    except (RegistryError, ValueError) as exc:
        fail(getattr(exc, "detail", str(exc)))


@admin_app.command("create-account")
def create_account(
    organization: Annotated[str, typer.Option(help="organization id; 'operator' for admins")],
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, clerk or official")],
    name_zh: Annotated[str, typer.Option()],
    name_en: Annotated[str, typer.Option()] = "",
    title_zh: Annotated[str, typer.Option()] = "",
    title_en: Annotated[str, typer.Option()] = "",
    password: Annotated[
        str | None, typer.Option(help="omit for API-token-only accounts", prompt=False)
    ] = None,
) -> None:
    """Create an account; prints its id."""
    import uuid

    from registry.accounts import accounts
    from registry.models import Role
    from registry.operations.bootstrap import bootstrap, operator

    settings, factory = session_factory()
    try:
        bootstrap(factory, settings)
        with transaction(factory) as session:
            org = (
                operator(session)
                if organization == "operator"
                else accounts.get_organization(session, uuid.UUID(organization))
            )
            account = accounts.create_account(
                session,
                organization=org,
                username=username,
                role=Role(role),
                name_zh=name_zh,
                name_en=name_en,
                title_zh=title_zh,
                title_en=title_en,
                password=password,
            )
            typer.echo(str(account.id))
    except (RegistryError, ValueError) as exc:
        fail(getattr(exc, "detail", str(exc)))


@admin_app.command("create-token")
def create_token(
    username: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()] = "cli",
) -> None:
    """Issue an API token for an account; the token is printed once."""
    from registry.accounts import accounts, queries

    factory = session_factory()[1]
    with transaction(factory) as session:
        account = queries.account_by_username(session, username)
        if account is None:
            fail(_("没有账户 %(username)s") % {"username": username})
        assert account is not None
        plain = accounts.issue_token(session, account, name)[1]
        typer.echo(plain)


@admin_app.command("revoke-token")
def revoke_token(token_id: str) -> None:
    """Revoke an API token by id."""
    import uuid

    from registry.accounts import accounts

    factory = session_factory()[1]
    with transaction(factory) as session:
        if accounts.revoke_any_token(session, uuid.UUID(token_id)) is None:
            fail(_("没有令牌 %(token_id)s") % {"token_id": token_id})
    err.print(_("已撤销令牌"))


@admin_app.command("disable-demo-accounts")
def disable_demo_accounts() -> None:
    """Disable every demo account that still logs in with the published demo password
    (a production registry refuses to start while one does)."""
    from registry.demo.credentials import disable_demo_accounts as disable

    factory = session_factory()[1]
    with transaction(factory) as session:
        disabled = disable(session)
    if not disabled:
        err.print(_("没有仍使用公开演示密码的演示账户"))
        return
    for username in disabled:
        typer.echo(username)
    err.print(_("已停用 %(count)s 个演示账户") % {"count": len(disabled)})
