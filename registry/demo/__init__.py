"""The demo dataset: fictional people and companies, real places and products.

- Aohan Banner millet (敖汉小米): cooperative → mill → carrier; pesticide-residue test
  (``registry.demo.aohan``).
- Shan County eggs (单县鸡蛋): cooperative → carrier; antibiotic-residue test
  (``registry.demo.shan``).
- Pingyin rose cakes (平阴玫瑰花饼): rose cooperative + flour cooperative → bakery → carrier.
  The second flour lot is recalled, and the recall reaches the rose cakes baked from it
  (``registry.demo.pingyin``).

The endorsements cover every status a scan can show: valid, not yet valid, expired, revoked
and recalled. Every record is signed with a custodial key of the account that did the step
(``registry.demo.writer``), so the chains verify like any other. Loading
(``registry.demo.loader``) is idempotent: ids are derived from names (UUID v5,
``registry.demo.ids``). The organizations, accounts and products are in
``registry.demo.people``.
"""

from registry.demo.ids import demo_id
from registry.demo.loader import load_demo
from registry.demo.people import DEMO_PASSWORD, PEOPLE

__all__ = ["DEMO_PASSWORD", "PEOPLE", "demo_id", "load_demo"]
