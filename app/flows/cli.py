"""`flask grants propose-idle`: the platform's proposal to withdraw idle grants (南通 art. 26),
on demand. The scheduler already runs it daily (app/flows/__init__.py); it never proposes
twice for a grant while a proposal is open."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.flows.idle_grant_review import propose_idle_grants
from app.flows.step_deadlines import DOCUMENTED_PROFILES, markdown, replace_section
from app.policy import active_policy
from app.policy.profiles import load_profile

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


flows_cli = AppGroup("flows", help="业务流程 / flows")


@flows_cli.command("deadlines")
@click.option("--write", is_flag=True, help="写入 bpmn/README.md 的标记之间 / write into bpmn/README.md")
def deadlines(write: bool) -> None:
    """Every human step's deadline in every jurisdiction, with its source (markdown)."""
    bpmn_dir = Path(current_app.config["BPMN_DIR"])
    table = markdown(bpmn_dir, [load_profile(key) for key in DOCUMENTED_PROFILES])
    if not write:
        click.echo(table)
        return
    readme = bpmn_dir / "README.md"
    readme.write_text(replace_section(readme.read_text(encoding="utf-8"), table), encoding="utf-8")
    click.echo(f"已更新 {readme}")
