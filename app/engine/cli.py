"""`flask bpmn …` and `flask scheduler …` commands."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db

bpmn_cli = AppGroup("bpmn", help="部署与查看 BPMN 流程定义")
scheduler_cli = AppGroup("scheduler", help="定时器调度（催办、督办、期限）")


@bpmn_cli.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def deploy_command(files: tuple[str, ...]) -> None:
    """Deploy FILES (default: every *.bpmn in BPMN_DIR); unchanged files are skipped."""
    from app.engine.definitions import deploy_directory

    results = deploy_directory(current_app.config["BPMN_DIR"], list(files) or None)
    if not results:
        click.echo(f"没有找到 BPMN 文件：{current_app.config['BPMN_DIR']}")
    failed = 0
    for file, outcome, row, error in results:
        if outcome == "deployed":
            click.echo(f"已部署 {file} → {row.process_id} 第 {row.version} 版")
        elif outcome == "unchanged":
            click.echo(f"未变化 {file}（{row.process_id} 第 {row.version} 版）")
        else:
            failed += 1
            click.echo(f"失败   {file}：{error}", err=True)
    if failed:
        raise SystemExit(1)


@bpmn_cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def check_command(files: tuple[str, ...]) -> None:
    """Check FILES as deploy would (the studio runs the same check); store nothing."""
    from pathlib import Path

    from app.engine.definitions import problems_of

    refused = 0
    for file in files:
        problems = problems_of(Path(file).read_bytes(), Path(file).name)
        refused += bool(problems)
        click.echo(f"{'不通过' if problems else '通过'}   {file}")
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
    if refused:
        raise SystemExit(1)


@bpmn_cli.command("list")
def list_command() -> None:
    """List deployed process versions."""
    from app.engine.models import ProcessDefinition

    for row in db.session.scalars(select(ProcessDefinition).order_by(
            ProcessDefinition.process_id, ProcessDefinition.version)):
        click.echo(f"{row.process_id}\tv{row.version}\t{row.file_name or ''}\t{row.content_hash[:12]}\t"
                   f"{row.deployed_at:%Y-%m-%d %H:%M}")


@bpmn_cli.command("verify")
def verify_command() -> None:
    """Check every stored version as deploy would; exit 1 naming each one refused."""
    from app.engine.definitions import verify_stored

    refused = 0
    for row, problem in verify_stored():
        if problem is None:
            click.echo(f"通过   {row.process_id} 第 {row.version} 版")
        else:
            refused += 1
            click.echo(f"拒绝   {problem}", err=True)
    if refused:
        raise SystemExit(1)


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the timer scheduler in the foreground (a separate process; several may run)."""
    from app.engine.scheduler import run_blocking

    click.echo(f"调度器已启动，每 {current_app.config.get('SCHEDULER_INTERVAL_SECONDS', 15)} 秒检查一次到期定时器")
    run_blocking(current_app._get_current_object())


@scheduler_cli.command("tick")
def tick_command() -> None:
    """Poll once: fire due timers and refresh SLA states."""
    from app.engine.scheduler import run_due_work

    fired, changed = run_due_work(current_app._get_current_object())
    click.echo(f"触发定时器 {fired} 个，更新期限状态 {changed} 个")
