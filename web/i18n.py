"""The words of the web pages, in Chinese (the default) and English.

Every piece of interface text lives in ``TEXT`` as a (Chinese, English) pair; templates ask
for it by key through a ``Translator``. Names that come from the data (products,
organizations, people) carry both languages themselves: a page shows the one in its
language first and the other alongside.

The language is chosen by ``?lang=zh|en`` (the visible toggle, a plain link that works
without JavaScript), else by the ``Accept-Language`` header, else Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

TEXT: dict[str, tuple[str, str]] = {
    # page chrome
    "brand": ("担保登记", "Guarantee Registry"),
    "switch_language": ("English", "中文"),
    "switch_language_label": ("Switch to English", "切换到中文"),
    "footer": (
        "每条记录由经手方签名，并写入公开的只增日志；你的手机会亲自核验这些签名。",
        "Every record is signed by the party that did the step and kept in a public "
        "append-only log; your phone checks those signatures itself.",
    ),
    "footer_privacy": (
        "本页不使用 Cookie，也不从其他网站加载任何内容。",
        "This page sets no cookies and loads nothing from other sites.",
    ),
    # status
    "status.valid": ("有效", "Valid"),
    "status.not_yet_valid": ("未生效", "Not yet valid"),
    "status.expired": ("已过期", "Expired"),
    "status.revoked": ("已撤销", "Revoked"),
    "status.recalled": ("已召回", "Recalled"),
    "status_explained.valid": (
        "官员的担保在有效期内。",
        "The official's guarantee is in force.",
    ),
    "status_explained.not_yet_valid": (
        "担保尚未开始生效：请在有效期内购买。",
        "The guarantee has not started yet: it covers purchases in its validity window.",
    ),
    "status_explained.expired": (
        "担保已过有效期，不再覆盖现在的购买。",
        "The guarantee has ended and does not cover purchases now.",
    ),
    "status_explained.revoked": (
        "担保已被官员撤销，不再担保。",
        "The official withdrew the guarantee.",
    ),
    "status_explained.recalled": (
        "该批次或其原料已被召回：请勿食用，联系卖家退货。",
        "This batch or an ingredient was recalled: do not eat it; return it to the seller.",
    ),
    "why.revoked": ("撤销原因", "Why it was revoked"),
    "why.recalled": ("召回原因", "Why it was recalled"),
    "reason_not_stated": ("（未说明）", "(not stated)"),
    "status_changed": (
        "状态已更新，请刷新本页。",
        "The status has changed since this page was loaded: reload it.",
    ),
    "reload": ("刷新", "Reload"),
    "code": ("背书码", "Code"),
    # the guarantee
    "guarantee": ("官员担保", "The official's guarantee"),
    "vouches": ("担保人", "Who vouches"),
    "what_vouched": ("担保内容", "What is guaranteed"),
    "stream": ("直播", "Livestream"),
    "platform": ("平台", "Platform"),
    "room": ("直播间", "Room"),
    "stream_time": ("直播时间", "On air"),
    "hosts": ("主播", "Hosts"),
    "valid_window": ("担保有效期", "Guarantee valid"),
    "quantity_covered": ("担保数量", "Quantity covered"),
    "gtin": ("商品条码", "GTIN"),
    "standard": ("执行标准", "Standard"),
    "beijing_time": ("北京时间", "Beijing time"),
    "preconditions": ("背书前提核查", "Preconditions checked"),
    "preconditions_hint": (
        "官员签署前，登记处核查了以下条件：",
        "Before the official signed, the registry checked:",
    ),
    "signed_by_n": ("共 {n} 位官员签名", "signed by {n} officials"),
    # claims
    "claim.origin_verified": ("产地核验", "Origin verified"),
    "claim.lab_tested": ("检测合格", "Lab tested"),
    "claim.certified": ("承诺达标合格证", "Producer's compliance certificate"),
    "claim.cold_chain": ("全程冷链", "Cold chain throughout"),
    "claim.personally_vouched": ("本人担保", "Personally vouched"),
    # preconditions
    "precondition.origin": ("辖区内合作社的产地记录", "Origin record by a local cooperative"),
    "precondition.lab_test": ("直播前90天内检测合格", "Passing lab test within 90 days"),
    "precondition.certificate": ("承诺达标合格证", "Producer's compliance certificate"),
    "precondition.no_recall": ("无召回、未过保质期", "No recall, within best-before"),
    "precondition.chain_verifies": ("全部记录验签通过", "Every record verifies"),
    # the journey
    "journey": ("从产地到你手中", "From the field to you"),
    "journey_hint": (
        "每一步由经手方签名；绿色印章表示本机已核验该步签名。",
        "Each step is signed by the party that did it; a green seal means this phone verified it.",
    ),
    "origin": ("产地", "Origin"),
    "region_code": ("行政区划代码", "Region code"),
    "coordinates": ("坐标", "Coordinates"),
    "signed_by": ("签名", "Signed by"),
    "lot": ("批号", "Lot"),
    "batch_code": ("批次码", "Batch code"),
    "quantity": ("数量", "Quantity"),
    "harvested": ("采收日期", "Harvested"),
    "best_before": ("保质期至", "Best before"),
    "inputs": ("原料批次", "Input batches"),
    "outputs": ("产出批次", "Output batches"),
    "process": ("工艺", "Process"),
    "package": ("包装", "Package"),
    "report_number": ("报告编号", "Report"),
    "sampled_on": ("抽样日期", "Sampled"),
    "lab": ("检测机构", "Lab"),
    "substance": ("项目", "Substance"),
    "value_limit": ("结果 / 限量", "Result / limit"),
    "method": ("方法标准", "Method"),
    "verdict": ("结论", "Verdict"),
    "verdict.pass": ("合格", "Pass"),
    "verdict.fail": ("不合格", "Fail"),
    "not_detected": ("未检出", "not detected"),
    "certificate_number": ("合格证编号", "Certificate No."),
    "promise": ("承诺", "Promise"),
    "location": ("地点", "Location"),
    "temperatures": ("温度记录", "Temperatures"),
    "temperature_range": ("{low} – {high} °C，{n} 次读数", "{low} – {high} °C, {n} readings"),
    "destination": ("发往", "To"),
    "source": ("来自", "From"),
    "waybill": ("运单号", "Waybill"),
    "vehicle": ("车辆", "Vehicle"),
    "reason": ("原因", "Reason"),
    "erased": ("内容已删除（个人信息）", "Content erased (personal data)"),
    "server_ok": ("登记处验签通过", "the registry verified it"),
    "server_failed": ("登记处验签未通过", "the registry could not verify it"),
    "log_index": ("日志序号", "log index"),
    "batches": ("批次与原料", "Batches and ingredients"),
    "covered": ("本次担保", "covered"),
    "recalled_tag": ("已召回", "recalled"),
    "signed_records": ("签名记录", "Signed records"),
    "endorsements_of_batch": ("官员背书", "Endorsements"),
    "label_qr": ("包装标签二维码", "Package label QR"),
    # kinds of record
    "kind.harvest": ("采收", "Harvest"),
    "kind.processing": ("加工", "Processing"),
    "kind.packing": ("包装", "Packing"),
    "kind.inspection": ("检测", "Lab test"),
    "kind.certificate": ("合格证", "Compliance certificate"),
    "kind.storage": ("仓储", "Storage"),
    "kind.shipping": ("发运", "Shipping"),
    "kind.receiving": ("收货", "Receiving"),
    "kind.recall": ("召回", "Recall"),
    "kind.correction": ("更正", "Correction"),
    "kind.key_registration": ("密钥登记", "Key registration"),
    "kind.key_rotation": ("密钥轮换", "Key rotation"),
    "kind.key_revocation": ("密钥吊销", "Key revocation"),
    "kind.endorsement": ("官员背书", "Endorsement"),
    "kind.endorsement_revocation": ("撤销背书", "Endorsement revoked"),
    # platforms
    "platform.taobao_live": ("淘宝直播", "Taobao Live"),
    "platform.pinduoduo": ("拼多多", "Pinduoduo"),
    "platform.douyin": ("抖音", "Douyin"),
    "platform.kuaishou": ("快手", "Kuaishou"),
    "platform.wechat_channels": ("微信视频号", "WeChat Channels"),
    "platform.other": ("其他平台", "Other"),
    # units
    "unit.kg": ("公斤", "kg"),
    "unit.g": ("克", "g"),
    "unit.t": ("吨", "t"),
    "unit.piece": ("枚", "pieces"),
    "unit.box": ("盒", "boxes"),
    "unit.bag": ("袋", "bags"),
    "unit.bottle": ("瓶", "bottles"),
    "unit.l": ("升", "l"),
    # verification on the phone
    "verify.title": ("本机核验", "Checked on this phone"),
    "verify.server": (
        "登记处核验：{ok} / {n} 条签名记录有效。启用 JavaScript 后，你的手机会亲自核验。",
        "The registry's own check: {ok} of {n} signed records verify. With JavaScript on, "
        "your phone checks them itself.",
    ),
    "verify.pending": (
        "正在用本机核验签名、日志证明和检查点…",
        "Checking the signatures, log proofs and checkpoint on this phone…",
    ),
    "verify.verified": (
        "本机已核验全部 {n} 条签名记录、其日志包含证明和日志检查点签名。",
        "This phone verified all {n} signed records, their log inclusion proofs and the "
        "log checkpoint's signature.",
    ),
    "verify.failed": ("核验失败：{step}。", "Verification failed: {step}."),
    "verify.failed_hint": (
        "这说明数据可能被改动。请勿仅凭本页购买，并向平台或当地市场监管部门反映。",
        "The data may have been altered. Do not rely on this page; tell the platform or the "
        "local market regulator.",
    ),
    "verify.unsupported": (
        "此浏览器不支持 Ed25519 签名核验，请用最新版浏览器打开。下面显示的是登记处的核验结果。",
        "This browser cannot check Ed25519 signatures; open the page in an up-to-date "
        "browser. The registry's own results are shown below.",
    ),
    "verify.network": (
        "无法下载核验数据，请检查网络后重试。",
        "Could not download the verification data; check the connection and retry.",
    ),
    "verify.retry": ("重试", "Retry"),
    "verify.banner_failed": (
        "本机核验失败：这个状态无法确认。",
        "Not confirmed: this phone could not verify the data behind this status.",
    ),
    "verify.step_ok": ("本机已核验", "verified on this phone"),
    "verify.step_failed": ("本机核验失败", "failed on this phone"),
    "verify.checkpoint": ("日志检查点", "log checkpoint"),
    "verify.log_key": ("日志公钥", "log key"),
    "verify.record": ("第 {index} 条记录（{kind}）", "record #{index} ({kind})"),
    "verify.why.signature": ("签名无效", "a signature does not verify"),
    "verify.why.key": ("签名密钥未登记", "the signing key is not registered"),
    "verify.why.payload": ("内容与日志不符", "the content does not match the log"),
    "verify.why.proof": ("不在日志中", "it is not in the log (inclusion proof)"),
    "verify.why.checkpoint": ("检查点签名无效", "the checkpoint signature does not verify"),
    "verify.why.endorsement": (
        "背书内容与签名不符",
        "the endorsement differs from what was signed",
    ),
    "verify.why.missing": ("缺少记录", "a record is missing"),
    "verify.checkpoint_line": ("日志检查点：{size} 条记录", "Log checkpoint: {size} records"),
    "verify.json": ("核验数据（JSON）", "Verification data (JSON)"),
    # report a problem
    "report.title": ("反映问题", "Report a problem"),
    "report.intro": (
        "收到的商品与描述不符、有质量问题或疑似假冒？告诉合作社、担保官员和主管部门。",
        "Product not as described, a quality problem, or a suspected fake? Tell the "
        "cooperative, the official who vouched and the authority.",
    ),
    "report.category": ("问题类型", "What kind of problem"),
    "report.category.not_as_described": ("与描述不符", "Not as described"),
    "report.category.quality_problem": ("质量问题", "Quality problem"),
    "report.category.suspected_counterfeit": ("疑似假冒", "Suspected counterfeit"),
    "report.category.other": ("其他", "Other"),
    "report.text": ("发生了什么", "What happened"),
    "report.text_hint": ("5 到 2000 字", "5 to 2000 characters"),
    "report.contact": ("联系方式（选填）", "Contact (optional)"),
    "report.contact_hint": (
        "手机号或邮箱，仅合作社、官员和主管部门可见",
        "Phone or e-mail, seen only by the cooperative, the official and the authority",
    ),
    "report.submit": ("提交", "Send"),
    "report.thanks": (
        "已收到，谢谢！合作社、担保官员和主管部门都能看到你的反映。",
        "Thank you: the cooperative, the official and the authority can all see your report.",
    ),
    "report.invalid": ("请修改标出的内容后再提交。", "Please correct the marked fields."),
    "report.error.category": ("请选择问题类型。", "Choose what kind of problem."),
    "report.error.text": (
        "请用 5 到 2000 字说明发生了什么。",
        "Say what happened in 5-2000 characters.",
    ),
    "report.error.contact": ("联系方式最多 200 字。", "At most 200 characters."),
    "report.rate_limited": (
        "提交太频繁，请 {seconds} 秒后再试。",
        "Too many reports from this connection; try again in {seconds} s.",
    ),
    # the entry page
    "entry.title": ("输入背书码", "Enter the code"),
    "entry.intro": (
        "扫不了二维码？输入直播画面上的背书码，查看官员担保和每一步签名记录。",
        "Cannot scan the QR? Type the code shown on the stream to see the official's "
        "guarantee and every signed step.",
    ),
    "entry.label": ("背书码", "Code"),
    "entry.placeholder": ("例如 WFRCQ501K", "e.g. WFRCQ501K"),
    "entry.submit": ("查看", "Show"),
    "entry.hint": (
        "背书码由 9 位数字和字母组成，最后一位是校验位；大小写均可，0 与 O、1 与 I 不必区分。",
        "A code is 9 letters and digits, the last one a check character; case does not "
        "matter, nor do 0/O and 1/I.",
    ),
    "entry.empty": ("请输入背书码。", "Type a code."),
    "entry.malformed": (
        "“{code}”不是背书码：背书码由 9 位数字和字母组成。",
        "“{code}” is not a code: codes are 9 letters and digits.",
    ),
    "entry.check": (
        "“{code}”的最后一位校验位对不上，可能有一位输错或两位顺序颠倒。请对照直播画面再核对一遍。",
        "The check character of “{code}” does not match: a character is probably mistyped, "
        "or two are swapped. Compare it with the stream again.",
    ),
    "entry.unknown": (
        "没有背书码为“{code}”的背书。请核对代码。",
        "There is no endorsement with the code “{code}”. Check the code.",
    ),
    "entry.did_you_mean": ("你要找的是不是：", "Did you mean:"),
    # errors
    "error.no_endorsement": ("没有这个背书", "No such endorsement"),
    "error.no_batch": ("没有这个批次", "No such batch"),
    "error.bad_code": ("没有这个代码，请核对", "No such code: check the code"),
    "error.bad_code_hint": (
        "代码由数字和字母组成，最后一位是校验位。请核对直播画面上的代码，注意 0 与 O、1 与 I。",
        "Codes are letters and digits; the last one is a check character. Check the code "
        "on the stream again (0 and O, 1 and I look alike).",
    ),
    "error.not_found_hint": (
        "请核对代码，或扫描直播画面上的二维码。",
        "Check the code, or scan the QR on the stream.",
    ),
    "error.enter_code": ("手动输入背书码", "Type a code instead"),
    "error.malformed_link": ("二维码链接格式有误", "Malformed GS1 Digital Link"),
    "error.malformed_link_hint": (
        "请重新扫描包装上的二维码；若仍有误，请联系生产者。",
        "Scan the package QR again; if it still fails, tell the producer.",
    ),
    "error.detail": ("技术细节", "Technical detail"),
}

# GB/T 2260 region names: every province-level division, and the prefectures and counties of
# the products the registry was started with. Unknown codes fall back to their province.
REGIONS: dict[str, tuple[str, str]] = {
    "11": ("北京市", "Beijing"),
    "12": ("天津市", "Tianjin"),
    "13": ("河北省", "Hebei"),
    "14": ("山西省", "Shanxi"),
    "15": ("内蒙古自治区", "Inner Mongolia"),
    "21": ("辽宁省", "Liaoning"),
    "22": ("吉林省", "Jilin"),
    "23": ("黑龙江省", "Heilongjiang"),
    "31": ("上海市", "Shanghai"),
    "32": ("江苏省", "Jiangsu"),
    "33": ("浙江省", "Zhejiang"),
    "34": ("安徽省", "Anhui"),
    "35": ("福建省", "Fujian"),
    "36": ("江西省", "Jiangxi"),
    "37": ("山东省", "Shandong"),
    "41": ("河南省", "Henan"),
    "42": ("湖北省", "Hubei"),
    "43": ("湖南省", "Hunan"),
    "44": ("广东省", "Guangdong"),
    "45": ("广西壮族自治区", "Guangxi"),
    "46": ("海南省", "Hainan"),
    "50": ("重庆市", "Chongqing"),
    "51": ("四川省", "Sichuan"),
    "52": ("贵州省", "Guizhou"),
    "53": ("云南省", "Yunnan"),
    "54": ("西藏自治区", "Xizang"),
    "61": ("陕西省", "Shaanxi"),
    "62": ("甘肃省", "Gansu"),
    "63": ("青海省", "Qinghai"),
    "64": ("宁夏回族自治区", "Ningxia"),
    "65": ("新疆维吾尔自治区", "Xinjiang"),
    "71": ("台湾省", "Taiwan"),
    "81": ("香港特别行政区", "Hong Kong"),
    "82": ("澳门特别行政区", "Macao"),
    "1504": ("赤峰市", "Chifeng"),
    "150402": ("红山区", "Hongshan District"),
    "150404": ("松山区", "Songshan District"),
    "150430": ("敖汉旗", "Aohan Banner"),
    "3701": ("济南市", "Jinan"),
    "370102": ("历下区", "Lixia District"),
    "370124": ("平阴县", "Pingyin County"),
    "3715": ("聊城市", "Liaocheng"),
    "371526": ("高唐县", "Gaotang County"),
    "3717": ("菏泽市", "Heze"),
    "371702": ("牡丹区", "Mudan District"),
    "371722": ("单县", "Shan County"),
    "6323": ("黄南藏族自治州", "Huangnan Prefecture"),
    "632324": ("河南蒙古族自治县", "Henan Mongol Autonomous County"),
}


def negotiate(requested: str | None, accept_language: str | None) -> tuple[str, bool]:
    """The page language and whether it was asked for explicitly (``?lang=``).

    ``Accept-Language`` (RFC 9110 §12.5.4) is read for its best-weighted ``zh`` or ``en``
    range; anything else, or nothing, means Chinese."""
    if requested in LANGUAGES:
        return requested, True
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Strictly greater: of equally weighted ranges, the one listed first wins.
        if q > best_q:
            best, best_q = primary, q
    return best, False


@dataclass(frozen=True)
class Translator:
    """Interface text and data names in one language, for templates."""

    lang: str

    @property
    def other(self) -> str:
        return "en" if self.lang == "zh" else "zh"

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    def __call__(self, key: str, **values: Any) -> str:
        pair = TEXT.get(key)
        if pair is None:
            return key.rpartition(".")[2].replace("_", " ")
        text = pair[0] if self.lang == "zh" else pair[1]
        return text.format(**values) if values else text

    def known(self, key: str) -> bool:
        return key in TEXT

    def name(self, item: Mapping[str, Any] | Any, field: str = "name") -> str:
        """``item``'s ``{field}_zh`` or ``{field}_en``, falling back to the other one."""
        first, second = (f"{field}_{self.lang}", f"{field}_{self.other}")
        value = _get(item, first) or _get(item, second)
        return str(value or "")

    def other_name(self, item: Mapping[str, Any] | Any, field: str = "name") -> str:
        """The name in the other language, when it says something the first one did not."""
        value = _get(item, f"{field}_{self.other}")
        return str(value) if value and value != self.name(item, field) else ""

    def unit(self, unit: str | None) -> str:
        if not unit:
            return ""
        return self(f"unit.{unit}") if f"unit.{unit}" in TEXT else unit

    def region(self, code: str | None) -> str:
        """A GB/T 2260 code in words, from the province down to what is known."""
        if not code:
            return ""
        parts = [REGIONS[code[:n]] for n in (2, 4, 6) if code[:n] in REGIONS and len(code) >= n]
        names = [zh if self.lang == "zh" else en for zh, en in parts]
        if self.lang == "zh":
            return "".join(names)
        return ", ".join(reversed(names))


def _get(item: Mapping[str, Any] | Any, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)
