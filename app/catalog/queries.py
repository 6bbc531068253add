"""Catalogue read side: browse and search, filtered by what the user may see."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

from app.catalog.models import CatalogEntry, InformationItem
from app.catalog.permissions import visible_entries
from app.extensions import db
from app.org.models import User


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int
    capped: bool = False  # there are more than `total` rows (a list counted only up to a cap)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def count(stmt: Select) -> int:
    """How many rows `stmt` yields, for a list's total (before paging)."""
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def page_of(stmt: Select, page: int, per_page: int, cap: int | None = None) -> Page:
    """Page `page` (1 at the least) of the ordered `stmt`, with the total — counted up to `cap`
    rows when given, so a list over years of history costs the same as a short one."""
    page = max(page, 1)
    if cap is None:
        total, capped = count(stmt), False
    else:
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).limit(cap + 1).subquery()))
        total, capped = min(total, cap), total > cap
    # a capped list has rows past its count: a later page is asked for, not assumed empty
    rows = page_rows(stmt, page, per_page, None if capped else total)
    return Page(rows, total, page, per_page, capped)


MAX_OFFSET = 2**31 - 1


def page_rows(stmt: Select, page: int, per_page: int, total: int | None) -> list:
    """The rows of page `page`; a page past the last row (or the database's OFFSET range, an
    error there, for the page numbers a client may send) is empty without asking the database.
    `total` None: not known (a capped count)."""
    first = (page - 1) * per_page
    if (total is not None and first >= total) or first > MAX_OFFSET:
        return []
    return list(db.session.scalars(stmt.offset(first).limit(per_page)).unique())


def search_entries(
    user: User,
    *,
    department_id: int | None = None,
    share_type: str | None = None,
    keyword: str | None = None,
    publish_state: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    stmt = visible_entries(user, select(CatalogEntry))
    if department_id:
        stmt = stmt.where(CatalogEntry.provider_department_id == department_id)
    if share_type:
        stmt = stmt.where(CatalogEntry.share_type == share_type)
    if publish_state:
        stmt = stmt.where(CatalogEntry.publish_state == publish_state)
    if keyword and keyword.strip():
        like = f"%{keyword.strip()}%"
        item_match = select(InformationItem.entry_id).where(InformationItem.name.ilike(like))
        stmt = stmt.where(or_(
            CatalogEntry.name.ilike(like), CatalogEntry.summary.ilike(like),
            CatalogEntry.resource_code.ilike(like), CatalogEntry.id.in_(item_match),
        ))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = max(1, page)
    return Page(page_rows(stmt.order_by(CatalogEntry.resource_code), page, per_page, total),
                total, page, per_page)
