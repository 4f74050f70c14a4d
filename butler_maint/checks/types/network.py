"""Network checks: ``port`` (ss, netstat), ``certificate`` (openssl), ``http`` (curl, wget).

``port`` prints the listening sockets of the protocol (``ss -ltn``/``-lun``, else
``netstat``) after ``tool=``; the judge filters the port and address. ``certificate``
prints the host's ``now`` and openssl's ``notAfter=`` line, parsed here (C-locale
``Jan  1 00:00:00 2027 GMT``) so expiry is judged on the host's clock. ``http`` fetches
the URL on the host into a temporary file (curl without following redirects, else GNU
wget with ``--max-redirect=0``) and prints the status code and, when ``contains`` is
set, the exit status of ``grep -Eq`` over the body: the body never leaves the host.
"""

from __future__ import annotations

import calendar
import ipaddress

from butler_maint.checks.base import CheckType, Raw, Verdict, error, q, verdict
from butler_maint.checks.types.common import (
    HEAD,
    failed,
    has,
    kv,
    last_line,
    missing,
    num,
    shown,
    tool_missing,
)
from butler_maint.model.checks import CertificateSpec, HttpSpec, PortSpec

_SECONDS_PER_DAY = 86400
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_WILDCARDS = frozenset({"*", "0.0.0.0", "::"})  # noqa: S104 - compared, never bound
_LOCAL_COLUMN = 3
_CERT_TIMEOUT_S = 15
_CURL_BAD_REQUEST = frozenset({1, 2, 3})  # unsupported protocol, init failed, bad URL
_WGET_BAD_REQUEST = frozenset({1, 2})  # generic error, bad options
_CODE_LEN = 3
_DATE_FIELDS = 5


def port_fragment(spec: PortSpec) -> str:
    """All listening sockets of ``proto``, from ss or netstat."""
    flags = "-ltn" if spec.proto == "tcp" else "-lun"
    return (
        f"{HEAD}if {has('ss')}; then echo tool=ss; ss {flags}\n"
        f"elif {has('netstat')}; then echo tool=netstat; netstat {flags}\n"
        f"else {missing('ss', 'netstat')}\nfi\n"
    )


def _split_local(local: str) -> tuple[str, str] | None:
    """``[::1]:22`` -> (``::1``, ``22``); ``127.0.0.53%lo:53`` -> (``127.0.0.53``, ``53``)."""
    address, sep, port = local.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return address.strip("[]").split("%", 1)[0], port


def _listeners(stdout: str, tool: str) -> list[tuple[str, str]] | None:
    """(address, port) of every listening socket in ss/netstat output."""
    rows = [line.split() for line in stdout.splitlines()[1:] if line.strip()]
    out: list[tuple[str, str]] = []
    for row in rows:
        if tool == "netstat" and not row[0].startswith(("tcp", "udp")):
            continue  # netstat's two header lines
        if tool == "ss" and row[0] in ("State", "Netid"):
            continue
        local = _split_local(row[_LOCAL_COLUMN]) if len(row) > _LOCAL_COLUMN else None
        if local is None:
            return None
        out.append(local)
    return out


def _address_matches(wanted: str | None, bound: str) -> bool:
    if wanted is None:
        return True
    wanted = wanted.strip("[]")
    return wanted == bound or (bound == "*" and wanted in _WILDCARDS)


def _show(address: str, port: str) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def port_judge(spec: PortSpec, raw: Raw) -> Verdict:
    """Whether something listens on the port (and address) as the spec expects."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    tool = kv(raw.stdout).get("tool", "")
    if raw.rc != 0:
        return failed(tool or "ss", raw)
    listeners = _listeners(raw.stdout, tool) if tool in ("ss", "netstat") else None
    if listeners is None:
        return error(f"could not parse the {tool or 'port'} output")
    port = str(int(num(spec.port)))
    on_port = sorted({(a, p) for a, p in listeners if p == port})
    matched = any(_address_matches(spec.address, a) for a, _ in on_port)
    target = _show(spec.address.strip("[]"), port) if spec.address else f"{spec.proto}/{port}"
    expected = f"{'' if spec.listening else 'not '}listening on {target}"
    shown_on = ", ".join(_show(a, p) for a, p in on_port)
    observed = f"listening on {shown_on}" if on_port else "not listening"
    return verdict(matched == spec.listening, observed, expected)


def _connect_target(spec: CertificateSpec) -> tuple[str, str | None]:
    """``host:port`` for s_client, and the SNI name (none for an IP literal)."""
    host = (spec.host or "").strip("[]")
    port = int(num(spec.port))
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return target, spec.servername or (None if is_ip else host)


def certificate_fragment(spec: CertificateSpec) -> str:
    """``now=`` and openssl's ``notAfter=`` of the PEM file or the served certificate."""
    head = f'{HEAD}{has("openssl")} || {missing("openssl")}\necho "now=$(date +%s)"\n'
    if spec.path is not None:
        return head + f"openssl x509 -enddate -noout -in {q(spec.path)}\n"
    target, name = _connect_target(spec)
    sni = f" -servername {q(name)}" if name else ""
    return head + (
        f"t=; {has('timeout')} && t='timeout {_CERT_TIMEOUT_S}'\n"
        f"$t openssl s_client -connect {q(target)}{sni} </dev/null 2>/dev/null"
        " | openssl x509 -enddate -noout\n"
    )


def parse_openssl_date(text: str) -> int | None:
    """Epoch seconds of openssl's C-locale date ``Jan  1 00:00:00 2027 GMT``."""
    fields = text.split()
    if len(fields) != _DATE_FIELDS or fields[4] != "GMT" or fields[0] not in _MONTHS:
        return None
    try:
        day, year = int(fields[1]), int(fields[3])
        hour, minute, second = (int(part) for part in fields[2].split(":"))
    except ValueError:
        return None
    return calendar.timegm((year, _MONTHS[fields[0]], day, hour, minute, second, 0, 0, 0))


def _days_text(seconds_left: int) -> str:
    days = abs(seconds_left) // _SECONDS_PER_DAY
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} left" if seconds_left >= 0 else f"expired {days} {unit} ago"


def certificate_judge(spec: CertificateSpec, raw: Raw) -> Verdict:
    """Whole days until notAfter, on the host's clock, against ``min_days_left``."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    expected = f">= {shown(spec.min_days_left)} days"
    if "notAfter" not in values:
        where = spec.path or _connect_target(spec)[0]
        return failed(f"reading the certificate of {where}", raw)
    not_after, now = parse_openssl_date(values["notAfter"]), values.get("now", "")
    if not_after is None or not now.isdigit():
        return error(f"could not parse the certificate date {values['notAfter']!r}")
    left = not_after - int(now)
    ok = left >= 0 and left // _SECONDS_PER_DAY >= num(spec.min_days_left)
    return verdict(ok, _days_text(left), expected, f"notAfter {values['notAfter']}")


_HTTP = """\
b=$(mktemp) && h=$(mktemp) || exit 1
if {has_curl}; then echo tool=curl
  c=$(curl -sS -o "$b" -w '%{{http_code}}' --proto =http,https --max-time {t} \
--connect-timeout {t}{curl_k} -- {url}); r=$?
elif {has_wget}; then echo tool=wget
  wget -q -S -O "$b" -T {t} -t 1 --max-redirect=0 --content-on-error{wget_k} -- {url} 2>"$h"; r=$?
  c=$(awk '/^ *HTTP\\//{{c=$2}} END{{print c}}' "$h")
  [ "$r" -eq 0 ] || grep -v '^  ' "$h" | tail -n 1 >&2
else rm -f "$b" "$h"; {missing}
fi
echo "code=$c"; echo "fetch_rc=$r"
"""
_GREP_BODY = 'grep -Eq -e {regex} -- "$b"; echo "grep_rc=$?"\n'


def http_fragment(spec: HttpSpec) -> str:
    """Fetch ``url`` on the host; print the status code and whether the body matched."""
    timeout = q(shown(num(spec.timeout_s)))
    text = HEAD + _HTTP.format(
        has_curl=has("curl"),
        has_wget=has("wget"),
        t=timeout,
        url=q(spec.url),
        curl_k="" if spec.verify_tls else " -k",
        wget_k="" if spec.verify_tls else " --no-check-certificate",
        missing=missing("curl", "wget"),
    )
    if spec.contains is not None:
        text += _GREP_BODY.format(regex=q(spec.contains))
    return text + 'rm -f "$b" "$h"\n'


def _http_expected(spec: HttpSpec) -> str:
    return f"HTTP {spec.status}" + (", body matches" if spec.contains is not None else "")


def _fetch_error(tool: str, stderr: str) -> str:
    """curl's own ``curl: (N) ...`` line (hints follow it), else the last line."""
    lines = [line for line in stderr.splitlines() if line.startswith(f"{tool}: (")]
    return lines[-1][:200] if lines else last_line(stderr)


def _no_response(tool: str, fetch_rc: int, raw: Raw, expected: str) -> Verdict:
    detail = _fetch_error(tool, raw.stderr)
    why = f"no response ({detail or f'{tool} exit {fetch_rc}'})"
    bad = _CURL_BAD_REQUEST if tool == "curl" else _WGET_BAD_REQUEST
    if fetch_rc in bad:
        return error(f"could not fetch: {why}", expected=expected)
    return verdict(False, why, expected)


def http_judge(spec: HttpSpec, raw: Raw) -> Verdict:
    """The status code (and body match) against the spec."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    tool, code, fetch_rc = values.get("tool", ""), values.get("code", ""), values.get("fetch_rc")
    expected = _http_expected(spec)
    if tool not in ("curl", "wget") or fetch_rc is None or not fetch_rc.isdigit():
        return (
            failed("the HTTP fetch", raw)
            if raw.rc
            else error("could not parse the HTTP check output")
        )
    if len(code) != _CODE_LEN or not code.isdigit() or code == "000":
        return _no_response(tool, int(fetch_rc), raw, expected)
    observed, ok = f"HTTP {code}", int(code) == spec.status
    if spec.contains is not None:
        grep_rc = values.get("grep_rc")
        if grep_rc not in ("0", "1"):
            return error(f"could not match the body (grep exit {grep_rc})", observed, expected)
        observed += ", body matches" if grep_rc == "0" else ", body does not match"
        ok = ok and grep_rc == "0"
    return verdict(ok, observed, expected)


PORT = CheckType("port", port_fragment, port_judge)
CERTIFICATE = CheckType("certificate", certificate_fragment, certificate_judge)
HTTP = CheckType("http", http_fragment, http_judge)
