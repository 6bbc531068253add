"""Sign-in and sign-out pages."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.org.auth import SignInThrottled, authenticate, end_session, start_session
from app.web.redirects import safe_next

auth = Blueprint("auth", __name__)


class SignInForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请输入用户名")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码")), Length(max=256)])


@auth.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data)
        except SignInThrottled as exc:
            form.password.errors.append(
                _("连续登录失败次数过多，请 %(minutes)s 分钟后再试", minutes=exc.retry_minutes))
            return render_template("auth/sign_in.html", form=form), 429, {"Retry-After": str(exc.retry_seconds)}
        if user is not None:
            start_session(user)
            flash(_("欢迎，%(name)s", name=user.display_name), "success")
            return redirect(safe_next(request.args.get("next")))
        form.password.errors.append(_("用户名或密码不正确"))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/sign_in.html", form=form), status


@auth.post("/sign-out")
@login_required
def sign_out():
    end_session(current_user)
    flash(_("您已安全退出"), "info")
    return redirect(url_for("auth.sign_in"))
