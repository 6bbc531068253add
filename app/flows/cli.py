"""`flask grants propose-idle`: the platform's proposal to withdraw idle grants (南通 art. 26),
on demand. The scheduler already runs it daily (app/flows/__init__.py); it never proposes
twice for a grant while a proposal is open."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.flows.idle_grant_review import propose_idle_grants
from app.policy import active_policy

grants_cli = AppGroup("grants", help="授权 / grants")


@grants_cli.command("propose-idle")
def propose_idle() -> None:
    """Start an idle-grant review for every grant unused longer than the profile's months."""
    policy = active_policy()
    if not policy.switch("idle_grant_withdrawal"):
        click.echo(f"辖区配置 {policy.key} 未启用闲置授权收回（idle_grant_withdrawal），未发起")
        return
    opened = propose_idle_grants()
    for case in opened:
        click.echo(f"{case.business_key}  {case.title}")
    click.echo(f"发起闲置授权收回建议 {len(opened)} 件（超过 {policy.idle_grant_months} 个月未使用）")
