"""No secret is committed (issue 7): the CRM URL's password, Airflow's admin password and any other
credential come from the environment or from files git ignores, never from the repository.

`find_secrets` scans text for credential patterns; the test runs it on every file git would commit (the
tracked files and the untracked ones no ignore rule covers) and checks the files meant to hold real
secrets are ignored. A line that must hold a fake credential (a test of the scanner, of password
redaction) carries the marker `pragma: allowlist secret` (detect-secrets' spelling).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pwh.settings import REPO_DIR

ALLOW_MARKER = "pragma: allowlist secret"
# A value that points elsewhere rather than holding the secret: $VAR, ${VAR}, $(command), Jinja's
# {{ env_var('X') }}, Python's %(x)s, <your password>, or a redaction (***).
REFERENCE = r"(?:\$|\{\{|%\(|<|\*{3})"
# Key names that hold a secret: the name ends with one of these words (admin_password, PWH_CRM_PASSWORD,
# client_secret, GITHUB_TOKEN, api_key); PASSWORDS_FILE or token_url do not.
SECRET_KEY = r"[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api_?key|access_?key|private_?key)"
PATTERNS = {
    "URL with a password": re.compile(
        rf"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?!{REFERENCE})[^\s/@'\"]+@[^\s/'\"]", re.IGNORECASE
    ),
    "secret assigned a literal": re.compile(
        rf"\b{SECRET_KEY}\\?[\"']?\s*(?:=|:|:=)\s*\\?[\"'](?!{REFERENCE})[^\"'\s]{{4,}}\\?[\"']",
        re.IGNORECASE,
    ),
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"aws_?secret_?access_?key\s*[=:]\s*[\"']?[A-Za-z0-9/+=]{40}\b", re.IGNORECASE
    ),
}
# In configuration files a value needs no quotes (`password: hunter2`, `PASSWORD=hunter2`).
CONFIG_SUFFIXES = {".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".env", ".properties"}
UNQUOTED = re.compile(
    rf"^\s*{SECRET_KEY}\s*[=:]\s*(?![\"'\s]|{REFERENCE})\S{{4,}}\s*$", re.IGNORECASE | re.MULTILINE
)

# Files that hold real secrets on a machine: git must ignore them wherever they appear.
SECRET_FILES = (
    "ingestion/.dlt/secrets.toml",  # dlt's secrets (a CRM URL with a password)
    ".dlt/secrets.toml",
    "pwh.toml",  # pwh's config file may hold PWH_CRM_URL
    "data/airflow/simple_auth_manager_passwords.json.generated",  # Airflow's generated admin password
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.text[:120]}"


def find_secrets(text: str, path: str = "<text>") -> list[Finding]:
    """Credential-looking strings in `text` (one Finding per match), skipping lines marked ALLOW_MARKER."""
    patterns = dict(PATTERNS)
    if Path(path).suffix in CONFIG_SUFFIXES or Path(path).name.startswith(".env"):
        patterns["secret in a configuration file"] = UNQUOTED
    findings = []
    for kind, pattern in patterns.items():
        for match in pattern.finditer(text):
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            line = text[start : end if end >= 0 else len(text)]
            if ALLOW_MARKER not in line:
                findings.append(Finding(path, text.count("\n", 0, match.start()) + 1, kind, line.strip()))
    return sorted(findings, key=lambda finding: (finding.path, finding.line, finding.kind))


def committable_files() -> list[str]:
    """What git would commit: tracked files plus untracked files that no ignore rule covers."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    return sorted({name for name in listed.split("\0") if name})


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=check)


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary (a NUL byte, not UTF-8) or a file deleted from the tree."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


@pytest.fixture(scope="module")
def repository() -> Path:
    if git("rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        pytest.skip("not a git checkout")
    return REPO_DIR


def test_no_file_git_would_commit_holds_a_secret(repository):
    findings = []
    scanned = 0
    for name in committable_files():
        text = read_text(repository / name)
        if text is not None:
            scanned += 1
            findings += find_secrets(text, name)
    assert scanned > 100, "the scan must see the repository"
    assert not findings, "credentials in files git would commit:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize("path", SECRET_FILES)
def test_files_that_hold_secrets_are_ignored_and_not_tracked(repository, path):
    assert git("check-ignore", "--no-index", "-q", path, check=False).returncode == 0, (
        f"{path} is not ignored"
    )
    assert git("ls-files", "--error-unmatch", path, check=False).returncode != 0, f"{path} is tracked"


# --- the scanner itself: it must find planted secrets, and not cry wolf at what only looks like one.
# Every fake credential below is on a line with the allow marker, so the repository scan passes.

# fmt: off
PLANTED = [
    ("crm_url = 'postgresql://pwh:Sup3rS3cret@crm.internal:5432/crm'", "x.py", "URL with a password"),  # pragma: allowlist secret
    ("PWH_CRM_URL=mysql+pymysql://reader:hunter22@db/crm", "README.md", "URL with a password"),  # pragma: allowlist secret
    ("export PWH_CRM_URL=mssql+pyodbc://sa:P%40ss@host/crm", "deploy.sh", "URL with a password"),  # pragma: allowlist secret
    ('AIRFLOW_PASSWORD = "c0rrect-horse"', "x.py", "secret assigned a literal"),  # pragma: allowlist secret
    ('{"username": "admin", "password": "Xk29dmq1"}', "x.json", "secret assigned a literal"),  # pragma: allowlist secret
    ("client_secret: 'a8f5f167f44f4964e6c998dee827110c'", "x.yml", "secret assigned a literal"),  # pragma: allowlist secret
    ("admin_password: hunter2x", "airflow.yaml", "secret in a configuration file"),  # pragma: allowlist secret
    ("crm_password = s3cr3t-value", "pwh.example.toml", "secret in a configuration file"),  # pragma: allowlist secret
    ("-----BEGIN RSA PRIVATE KEY-----", "id_rsa", "private key"),  # pragma: allowlist secret
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "key.txt", "private key"),  # pragma: allowlist secret
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "credentials", "AWS access key id"),  # pragma: allowlist secret
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "credentials", "AWS secret access key"),  # pragma: allowlist secret
]
# fmt: on

NEAR_MISSES = [
    ("crm_url = 'sqlite:////data/landing/crm.sqlite'", "x.py"),  # no user, no password
    ("see https://user@example.com/path and postgresql://pwh@crm/crm", "x.md"),  # a user, no password
    ("PWH_CRM_URL=postgresql://pwh:$PWH_CRM_PASSWORD@crm/crm", "x.md"),  # the password is a reference
    ("PWH_CRM_URL=postgresql://pwh:${CRM_PASSWORD}@crm/crm", "docker-compose.yml"),
    ("url = 'postgresql://pwh:***@crm/crm'", "x.py"),  # redacted, as the CRM error message shows it
    ("http://127.0.0.1:8080/auth/token", "x.md"),  # host:port, not user:password
    ("password = os.environ['PWH_CRM_PASSWORD']", "x.py"),  # read from the environment
    ('password = ""', "x.py"),  # empty
    ("password: \"{{ env_var('PWH_CRM_PASSWORD') }}\"", "profiles.yml"),  # dbt reads it from the environment
    ('PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"', "x.py"),  # names a file
    ('"password": "$(jq -r .admin passwords.json.generated)"', "x.md"),  # read at run time
    ("token_url = 'https://auth.example.com/token'", "x.py"),  # the key is no secret
    ("tokens = sorted(name.split())", "x.py"),
    ("password: <your password>", "x.yml"),  # a placeholder
    ("-----BEGIN PUBLIC KEY-----", "key.pub"),
    ("AKIA is the prefix of AWS access key ids", "x.md"),
]


@pytest.mark.parametrize(("text", "path", "kind"), PLANTED)
def test_scanner_finds_planted_secrets(text, path, kind):
    unmarked = text.replace(ALLOW_MARKER, "")
    assert kind in {finding.kind for finding in find_secrets(unmarked, path)}, unmarked
    assert find_secrets(f"# {ALLOW_MARKER}\n{unmarked}  # {ALLOW_MARKER}", path) == [], "the marker allows it"


@pytest.mark.parametrize(("text", "path"), NEAR_MISSES)
def test_scanner_ignores_what_only_looks_like_a_secret(text, path):
    assert find_secrets(text, path) == []


def test_findings_name_the_file_and_line():
    text = "first line\nsecond line\nurl = 'postgresql://u:pass1234@h/db'\n"  # pragma: allowlist secret
    [finding] = find_secrets(text, "conf.py")
    assert (finding.path, finding.line, finding.kind) == ("conf.py", 3, "URL with a password")
