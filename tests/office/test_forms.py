"""The back office's forms on the demo dataset (SQLite and PostgreSQL): each form calls its
service, says what it did, shows errors next to the fields with what was typed kept, and a
domain error appears beside the form, never as a 500."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from registry.db import transaction
from registry.models import Account, Batch, ComplaintAnswer, Record
from registry.reports import problems as report_service
from tests.office.conftest import Browser, Office, csrf_of

CST = timezone(timedelta(hours=8))


def local(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%dT%H:%M")


def follow(browser: Browser, response: Any) -> Any:
    assert response.status_code == 303, f"{response.status_code}: {response.text[:500]}"
    return browser.get(response.headers["location"])


def record(browser: Browser, kind: str, data: dict[str, Any]) -> Any:
    path = f"/office/records/new/{kind}"
    return browser.submit(path, path, data)


def new_batch(office: Office, browser: Browser, lot: str, hours_ago: int = 6) -> str:
    products = browser.get("/office/records/new/harvest").text
    product = re.search(r'<option value="([0-9a-f-]{36})">敖汉小米（谷子原粮）', products)
    assert product, "the cooperative's product is not offered"
    response = record(
        browser,
        "harvest",
        {
            "product": product.group(1),
            "lot": lot,
            "quantity": "800",
            "unit": "kg",
            "harvest_date": datetime.now(CST).date().isoformat(),
            "place.region": "150430",
            "time": local(datetime.now(CST) - timedelta(hours=hours_ago)),
        },
    )
    page = follow(browser, response)
    found = re.search(r'data-testid="batch" data-code="([0-9A-Z]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def org_id(office: Office, username: str) -> str:
    with transaction(office.app.state.session_factory) as session:
        account = session.scalars(select(Account).where(Account.username == username)).one()
        return str(account.organization_id)


def assign(office: Office, holder: Browser, code: str, task: str, to_user: str) -> None:
    """The holder hands batch ``code`` to ``to_user``'s organization through the form."""
    form = holder.get(f"/office/records/new/assignment?batch={code}").text
    to = org_id(office, to_user)
    assert f'<option value="{to}">' in form, f"{to_user}'s organization is not offered"
    response = record(holder, "assignment", {"batch": code, "task": task, "to.org": to})
    assert "委托" in follow(holder, response).text
    document = last_record(office)
    assert (document["kind"], document["task"], document["to"]["org"]) == (
        "assignment",
        task,
        to,
    )


def offered(browser: Browser, kind: str) -> set[str]:
    """The batch codes a record form suggests."""
    form = browser.get(f"/office/records/new/{kind}").text
    datalist = form.split('<datalist id="batch-codes">')[1].split("</datalist>")[0]
    return set(re.findall(r'<option value="([0-9A-Z]+)">', datalist))


def last_record(office: Office) -> dict[str, Any]:
    with transaction(office.app.state.session_factory) as session:
        # The newest record, not the status index that ends its transaction.
        row = session.scalars(
            select(Record)
            .where(Record.kind != "status_index")
            .order_by(Record.log_index.desc())
            .limit(1)
        ).one()
        assert row.payload is not None
        document: dict[str, Any] = json.loads(row.payload)
        return document


def test_a_harvest_creates_a_batch_and_says_so(office: Office) -> None:
    clerk = office.browser("aohan-clerk")
    code = new_batch(office, clerk, "AH-FORM-001")
    page = clerk.get(f"/office/batches/{code}")
    assert "AH-FORM-001" in page.text
    document = last_record(office)
    assert document["kind"] == "harvest" and document["quantity"] == "800"
    assert document["time"].endswith("+08:00")
    home = clerk.get("/office/")
    assert code in home.text


def test_errors_sit_next_to_their_fields_and_keep_what_was_typed(office: Office) -> None:
    clerk = office.browser("aohan-clerk")
    response = record(
        clerk,
        "harvest",
        {"product": "", "lot": "坏批号 with spaces", "quantity": "八百", "unit": "kg"},
    )
    assert response.status_code == 422
    html = response.text
    for name in ("product", "lot", "quantity", "harvest_date"):
        assert f'data-error-for="{name}"' in html, f"no error shown for {name}"
    assert 'value="八百"' in html and 'value="坏批号 with spaces"' in html
    assert 'data-testid="form-errors"' in html


def test_a_domain_error_is_shown_beside_the_form(office: Office) -> None:
    clerk = office.browser("aohan-clerk")
    new_batch(office, clerk, "AH-FORM-DUP")
    products = clerk.get("/office/records/new/harvest").text
    product = re.search(r'<option value="([0-9a-f-]{36})">敖汉小米（谷子原粮）', products)
    assert product
    again = record(
        clerk,
        "harvest",
        {
            "product": product.group(1),
            "lot": "AH-FORM-DUP",
            "quantity": "5",
            "unit": "kg",
            "harvest_date": "2026-01-01",
            "place.region": "150430",
        },
    )
    assert again.status_code == 422
    assert 'data-rule="duplicate-lot"' in again.text
    assert "该产品已有这个批号" in again.text
    assert 'value="AH-FORM-DUP"' in again.text
    future = record(
        clerk,
        "storage",
        {
            "batch": office.batch("AH2026-001")["code"],
            "location": "仓库",
            "time": local(datetime.now(CST) + timedelta(days=2)),
        },
    )
    assert future.status_code == 422 and 'data-rule="time-in-future"' in future.text


def test_inspection_takes_more_rows_than_shown(office: Office) -> None:
    """Five rows show without JavaScript; office.js adds more; the server reads them all."""
    clerk = office.browser("aohan-clerk")
    code = new_batch(office, clerk, "AH-FORM-LAB")
    assign(office, clerk, code, "inspection", "chifeng-analyst")
    lab = office.browser("chifeng-analyst")
    form = lab.get("/office/records/new/inspection").text
    assert len(re.findall(r'name="results\.\d+\.substance"', form)) == 5
    data: dict[str, str] = {"batch": code.lower(), "report_number": "GJ-FORM-7"}
    for i in range(7):
        data.update(
            {
                f"results.{i}.substance": f"物质 {i}",
                f"results.{i}.value": "0.01",
                f"results.{i}.limit": "0.1",
                f"results.{i}.unit": "mg/kg",
                f"results.{i}.method": "GB 23200.113-2018",
                f"results.{i}.verdict": "fail" if i == 6 else "pass",
            }
        )
    page = follow(lab, record(lab, "inspection", data))
    assert "检测报告" in page.text
    document = last_record(office)
    assert len(document["results"]) == 7
    assert document["verdict"] == "fail", "one failed substance fails the report"


def test_inspection_row_errors_keep_their_row(office: Office) -> None:
    lab = office.browser("chifeng-analyst")
    response = record(
        lab,
        "inspection",
        {
            "batch": office.batch("AH2026-001")["code"],
            "report_number": "GJ-ROW",
            "results.0.substance": "镉 cadmium",
            "results.0.value": "0.02",
            "results.0.limit": "0.1",
            "results.0.unit": "mg/kg",
            "results.0.method": "GB 5009.15-2014",
            "results.0.verdict": "pass",
            "results.3.substance": "铅 lead",
            "results.3.value": "abc",
            "results.3.verdict": "pass",
        },
    )
    assert response.status_code == 422
    for name in ("results.3.value", "results.3.limit", "results.3.unit", "results.3.method"):
        assert f'data-error-for="{name}"' in response.text, name
    assert 'data-error-for="results.0.value"' not in response.text
    assert 'value="abc"' in response.text


def test_processing_shipping_and_receiving(office: Office) -> None:
    clerk = office.browser("aohan-clerk")
    code = new_batch(office, clerk, "AH-FORM-MILL", hours_ago=10)
    carrier = office.browser("mengdong-driver")
    assert code not in offered(carrier, "shipping"), "offered before it was handed over"
    assign(office, clerk, code, "carriage", "mengdong-driver")
    assert code in offered(carrier, "shipping") and code in offered(carrier, "storage")
    mill = office.browser("mill-clerk")
    assert code not in offered(mill, "receiving"), "offered before it was shipped there"
    shipped = record(
        carrier,
        "shipping",
        {
            "batch": code,
            "to.name": "赤峰谷丰米业",
            "to.org": org_id(office, "mill-clerk"),
            "to.place.region": "150402",
            "waybill": "W-1",
        },
    )
    assert "发运" in follow(carrier, shipped).text
    assert code in offered(mill, "receiving") and code not in offered(mill, "processing")
    received = record(
        mill, "receiving", {"batch": code, "source.name": "敖汉合作社", "waybill": "W-1"}
    )
    assert "收货" in follow(mill, received).text
    assert code in offered(mill, "processing"), "the mill holds it now"
    assert code not in offered(carrier, "storage"), "the carriage ended on receiving"
    form = mill.get("/office/records/new/processing").text
    product = re.search(r'<option value="([0-9a-f-]{36})">敖汉小米 2.5kg 袋装', form)
    assert product
    too_much = record(
        mill,
        "processing",
        {
            "inputs.0.batch": code,
            "inputs.0.quantity": "900",
            "outputs.0.product": product.group(1),
            "outputs.0.lot": "GF-FORM-1",
            "outputs.0.quantity": "300",
            "outputs.0.unit": "bag",
        },
    )
    assert too_much.status_code == 422 and 'data-rule="insufficient-quantity"' in too_much.text
    done = record(
        mill,
        "processing",
        {
            "inputs.0.batch": code,
            "inputs.0.quantity": "600",
            "outputs.0.product": product.group(1),
            "outputs.0.lot": "GF-FORM-1",
            "outputs.0.quantity": "220",
            "outputs.0.unit": "bag",
            "process": "脱壳、包装",
        },
    )
    page = follow(mill, done)
    assert "GF-FORM-1" in page.text, "lands on the output batch"
    with transaction(office.app.state.session_factory) as session:
        source = session.scalars(select(Batch).where(Batch.code == code)).one()
        assert source.remaining == "200"


def test_the_endorsement_cycle_through_forms(office: Office) -> None:
    clerk = office.browser("aohan-clerk")
    code = new_batch(office, clerk, "AH-FORM-END", hours_ago=8)
    now = datetime.now(CST)
    record(
        clerk,
        "certificate",
        {
            "batch": code,
            "certificate_number": "HG-F",
            "basis": ["self_test"],
            "promise": "承诺达标",
            "time": local(now - timedelta(hours=7)),
        },
    )
    assign(office, clerk, code, "inspection", "chifeng-analyst")
    lab = office.browser("chifeng-analyst")
    record(
        lab,
        "inspection",
        {
            "batch": code,
            "report_number": "GJ-END",
            "time": local(now - timedelta(hours=6)),
            "results.0.substance": "镉 cadmium",
            "results.0.value": "0.02",
            "results.0.limit": "0.1",
            "results.0.unit": "mg/kg",
            "results.0.method": "GB 5009.15-2014",
            "results.0.verdict": "pass",
        },
    )
    # A request missing its stream times comes back with the fields marked and kept.
    incomplete = clerk.submit(
        f"/office/requests/new?batch={code}",
        "/office/requests/new",
        {
            "batches": code,
            "official": "aohan-head",
            "stream.title": "新米直播",
            "quantity": "800",
            "claims": ["origin_verified", "lab_tested"],
        },
    )
    assert incomplete.status_code == 422
    assert 'data-error-for="stream.start"' in incomplete.text
    assert 'value="新米直播"' in incomplete.text
    request_page = follow(
        clerk,
        clerk.submit(
            f"/office/requests/new?batch={code}",
            "/office/requests/new",
            {
                "batches": code,
                "official": "aohan-head",
                "stream.platform": "taobao_live",
                "stream.room": "room-1",
                "stream.title": "新米直播",
                "stream.start": local(now - timedelta(hours=1)),
                "stream.end": local(now + timedelta(hours=2)),
                "stream.hosts": "小米姐姐，蛋哥",
                "quantity": "800",
                "claims": ["origin_verified", "lab_tested", "certified"],
            },
        ),
    )
    assert 'data-status="pending"' in request_page.text
    request_path = re.search(r"/office/requests/[0-9a-f-]{36}", str(request_page.url))
    assert request_path

    official = office.browser("aohan-head")
    review = official.get(request_path.group(0))
    assert review.text.count('data-ok="true"') == 5, "every precondition holds"
    rejected = official.client.post(
        request_path.group(0) + "/reject",
        data={"csrf_token": csrf_of(review.text), "reason": ""},
    )
    assert rejected.status_code == 422 and 'data-error-for="reason"' in rejected.text
    approved = follow(
        official,
        official.client.post(
            request_path.group(0) + "/approve",
            data={"csrf_token": csrf_of(review.text)},
            follow_redirects=False,
        ),
    )
    assert "已签名批准" in approved.text and 'data-status="valid"' in approved.text
    endorsement = re.search(r"/office/endorsements/([0-9A-Z]+)", str(approved.url))
    assert endorsement
    consumer = official.get(f"/e/{endorsement.group(1)}")
    assert 'data-status="valid"' in consumer.text

    # Deciding again is refused beside the form, not a 500.
    again = official.client.post(
        request_path.group(0) + "/approve", data={"csrf_token": csrf_of(review.text)}
    )
    assert again.status_code == 422 and 'data-rule="request-decided"' in again.text

    revoked = follow(
        official,
        official.client.post(
            f"/office/endorsements/{endorsement.group(1)}/revoke",
            data={"csrf_token": csrf_of(approved.text), "reason": "主播夸大宣传"},
            follow_redirects=False,
        ),
    )
    assert "已撤销" in revoked.text and 'data-status="revoked"' in revoked.text
    assert 'data-status="revoked"' in official.get(f"/e/{endorsement.group(1)}").text

    # The banner head recalls the batch: a signed recall in the jurisdiction.
    recall = follow(official, record(official, "recall", {"batch": code, "reason": "抽检不合格"}))
    assert "召回" in recall.text
    assert last_record(office)["kind"] == "recall"

    card = official.get("/office/report").text
    assert re.search(r'data-testid="count-revocations">\d+<', card)
    assert 'data-testid="chart-hourly"' in card and 'data-testid="chart-daily"' in card
    mine = official.get("/office/report/officials/aohan-head").text
    assert 'data-subject="official"' in mine


def test_complaints_are_read_and_answered_by_the_right_people(office: Office) -> None:
    code = next(e["code"] for e in office.summary["endorsements"] if e["code"])
    with transaction(office.app.state.session_factory) as session:
        report = report_service.submit_report(
            session,
            code,
            report_service.validate_report("quality_problem", "小米有受潮结块的情况", None),
            datetime.now(CST),
        )
        report_id = report.id
    clerk = office.browser("aohan-clerk")
    page = clerk.get("/office/complaints")
    assert "小米有受潮结块的情况" in page.text
    empty = clerk.client.post(
        f"/office/complaints/{report_id}/answer", data={"csrf_token": csrf_of(page.text)}
    )
    assert empty.status_code == 422
    answered = follow(
        clerk,
        clerk.client.post(
            f"/office/complaints/{report_id}/answer",
            data={"csrf_token": csrf_of(page.text), "text": "已联系买家换货，并复查仓储湿度。"},
            follow_redirects=False,
        ),
    )
    assert "答复已保存" in answered.text and "已联系买家换货" in answered.text
    outsider = office.browser("shanxian-clerk")
    assert "小米有受潮结块的情况" not in outsider.get("/office/complaints").text
    forged = outsider.client.post(
        f"/office/complaints/{report_id}/answer",
        data={"csrf_token": csrf_of(outsider.get("/office/").text), "text": "不是我的"},
    )
    assert forged.status_code == 404
    with transaction(office.app.state.session_factory) as session:
        answers = session.scalars(
            select(ComplaintAnswer).where(ComplaintAnswer.report_id == report_id)
        ).all()
        assert [a.text for a in answers] == ["已联系买家换货，并复查仓储湿度。"]


def test_products_and_labels(office: Office) -> None:
    clerk = office.browser("shanxian-clerk")
    bad = clerk.submit(
        "/office/products",
        "/office/products",
        {"name_zh": "单县咸鸭蛋", "category": "eggs", "gtin": "06901234567999"},
    )
    assert bad.status_code == 422 and 'value="单县咸鸭蛋"' in bad.text
    made = follow(
        clerk,
        clerk.submit(
            "/office/products", "/office/products", {"name_zh": "单县咸鸭蛋", "category": "eggs"}
        ),
    )
    assert "已登记" in made.text and "单县咸鸭蛋" in made.text
    eggs = office.batch("SX2026-1101")["code"]
    label = clerk.get(f"/office/batches/{eggs}/label?copies=3")
    assert label.status_code == 200
    assert label.text.count(f'src="/b/{eggs}/qr.svg"') == 3


def test_english_is_one_click_away(office: Office) -> None:
    clerk = office.browser("aohan-clerk")
    assert "记录一步" in clerk.get("/office/").text
    switched = clerk.get("/office/lang/en?next=/office/batches", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/office/batches"
    page = clerk.get("/office/")
    assert "Record a step" in page.text and '<html lang="en"' in page.text
    clerk.get("/office/lang/zh?next=/office/")
    assert '<html lang="zh-CN"' in clerk.get("/office/").text
    assert "Record a step" in clerk.get("/office/?lang=en").text


def test_an_english_page_is_english_in_its_form_pieces_too(office: Office) -> None:
    """Labels, options, hints, status tags and field errors drawn by the shared form macros
    follow the page language, and a record kind reads as it does on the public pages."""
    clerk = office.browser("aohan-clerk")
    products = clerk.get("/office/products?lang=en").text
    assert "Name (Chinese)" in products and "中文名称" not in products
    english = clerk.get("/office/requests/new?lang=en").text
    assert "— choose —" in english and "Taobao Live" in english
    chinese = clerk.get("/office/requests/new").text
    assert "— 请选择 —" in chinese and "淘宝直播" in chinese
    form = clerk.get("/office/records/new/storage?lang=en")
    refused = clerk.client.post(
        "/office/records/new/storage?lang=en", data={"csrf_token": csrf_of(form.text)}
    )
    assert refused.status_code == 422
    assert "Enter a batch code" in refused.text and "请填写批次码" not in refused.text
    batch = office.batch("AH2026-001")["code"]
    assert "Lab test" in clerk.get(f"/office/batches/{batch}?lang=en").text


def test_a_foreign_lab_is_offered_nothing_and_refused_beside_the_form(office: Office) -> None:
    """The Shan County lab was asked about its own eggs only: the Aohan millet is neither
    offered nor accepted, and the refusal names the custody rule."""
    lab = office.browser("luxinan-analyst")
    millet = office.batch("AH2026-001")["code"]
    eggs = office.batch("SX2026-1101")["code"]
    assert millet not in offered(lab, "inspection") and eggs in offered(lab, "inspection")
    before = last_record(office)
    response = record(
        lab,
        "inspection",
        {
            "batch": millet,
            "report_number": "LXN-FOREIGN",
            "results.0.substance": "镉 cadmium",
            "results.0.value": "0.5",
            "results.0.limit": "0.1",
            "results.0.unit": "mg/kg",
            "results.0.method": "GB 5009.15-2014",
            "results.0.verdict": "fail",
        },
    )
    assert response.status_code == 422 and 'data-rule="lab-not-assigned"' in response.text
    assert last_record(office) == before, "a refused record was written"
