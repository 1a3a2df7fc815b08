"""Organizations, accounts and products through the API: administrators register
organizations and accounts; producers register their own products."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Member, World, assert_problem, bearer

AUTHORITY = {
    "kind": "authority",
    "name_zh": "敖汉旗人民政府",
    "name_en": "Aohan Banner Government",
    "region_code": "150430",
    "jurisdiction": "150430",
}


def test_admin_registers_an_authority_and_its_official(
    admin_world: tuple[TestClient, Member],
) -> None:
    client, admin = admin_world
    created = client.post("/api/v1/organizations", json=AUTHORITY, headers=admin.headers)
    assert created.status_code == 201, f"creating an authority failed: {created.text}"
    org = created.json()
    assert (org["kind"], org["jurisdiction"], org["region_code"]) == (
        "authority",
        "150430",
        "150430",
    ), org
    assert client.get(f"/api/v1/organizations/{org['id']}").json() == org

    account = client.post(
        "/api/v1/accounts",
        json={
            "organization_id": org["id"],
            "username": "banner-head",
            "role": "official",
            "name_zh": "王旗长",
            "name_en": "Banner Head Wang",
            "title_zh": "旗长",
        },
        headers=admin.headers,
    )
    assert account.status_code == 201, f"creating the official failed: {account.text}"
    assert account.json()["organization_id"] == org["id"] and account.json()["role"] == "official"
    assert "password" not in account.text, "the account response mentions a password"


def test_organization_and_account_rules(admin_world: tuple[TestClient, Member]) -> None:
    client, admin = admin_world
    outside = dict(AUTHORITY, jurisdiction="1101")
    response = client.post("/api/v1/organizations", json=outside, headers=admin.headers)
    assert_problem(response, 422, "invalid-input", detail="jurisdiction")
    coop_with_jurisdiction = dict(AUTHORITY, kind="cooperative")
    response = client.post(
        "/api/v1/organizations", json=coop_with_jurisdiction, headers=admin.headers
    )
    assert_problem(response, 422, "invalid-input", detail="jurisdiction")
    response = client.post(
        "/api/v1/organizations", json=dict(AUTHORITY, region_code="15043"), headers=admin.headers
    )
    assert_problem(response, 422, "invalid-input", detail="region_code")

    # Well formed, but no GB/T 2260 division: refused, naming the field and the code.
    for field, unknown in (
        ("region_code", dict(AUTHORITY, region_code="899999", jurisdiction="89")),
        ("jurisdiction", dict(AUTHORITY, jurisdiction="15043")),
    ):
        response = client.post("/api/v1/organizations", json=unknown, headers=admin.headers)
        body = assert_problem(response, 422, "invalid-input", detail=str(unknown[field]))
        assert body["field"] == field and body["region"] == unknown[field], body
        assert "GB/T 2260" in body["detail"], body

    coop = client.post(
        "/api/v1/organizations",
        json={
            "kind": "cooperative",
            "name_zh": "合作社",
            "name_en": "Co-op",
            "region_code": "150430",
        },
        headers=admin.headers,
    ).json()
    official_of_coop = {
        "organization_id": coop["id"],
        "username": "not-an-official",
        "role": "official",
        "name_zh": "某人",
    }
    response = client.post("/api/v1/accounts", json=official_of_coop, headers=admin.headers)
    assert_problem(response, 422, "invalid-input", detail="official")
    clerk = dict(official_of_coop, role="clerk", username="admin")
    response = client.post("/api/v1/accounts", json=clerk, headers=admin.headers)
    assert_problem(response, 409, "conflict", rule="duplicate-username")


def test_only_administrators_register_organizations_and_accounts(world: World) -> None:
    response = world.client.post(
        "/api/v1/organizations", json=AUTHORITY, headers=world.official.headers
    )
    assert_problem(response, 403, "forbidden")
    response = world.client.post(
        "/api/v1/accounts",
        json={
            "organization_id": world.coop.org_id,
            "username": "sneaky",
            "role": "clerk",
            "name_zh": "某人",
        },
        headers=world.coop.headers,
    )
    assert_problem(response, 403, "forbidden")
    assert_problem(world.client.post("/api/v1/organizations", json=AUTHORITY), 401)


def test_accounts_list_is_scoped_to_the_organization(world: World) -> None:
    mine = world.client.get("/api/v1/accounts", headers=world.coop.headers).json()
    assert [a["id"] for a in mine] == [world.coop.account_id], f"a clerk sees others: {mine}"
    everyone = world.client.get("/api/v1/accounts", headers=world.admin.headers).json()
    assert len(everyone) == len(world.members) + 1, "an administrator should see every account"


def test_products_belong_to_producers(world: World) -> None:
    made = world.client.post(
        "/api/v1/products",
        json={"name_zh": "小米礼盒", "name_en": "Millet gift box", "category": "grain"},
        headers=world.coop.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["organization_id"] == world.coop.org_id
    listed = world.client.get(
        "/api/v1/products", params={"organization_id": world.coop.org_id}
    ).json()["items"]
    assert {p["id"] for p in listed} == {made.json()["id"], world.coop.product_id}, listed

    for member in (world.lab, world.carrier, world.official):
        response = world.client.post(
            "/api/v1/products",
            json={"name_zh": "检测", "category": "grain"},
            headers=bearer(member.token),
        )
        assert_problem(response, 403, "forbidden")
