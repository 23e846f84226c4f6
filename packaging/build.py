#!/usr/bin/env python3
"""Build Folio's one-folder bundle and smoke-test it as a user's machine would run it.

    python packaging/build.py build   # dist/folio/ (PyInstaller, packaging/folio.spec)
    python packaging/build.py smoke   # run dist/folio/folio offline, in an empty home
    python packaging/build.py all     # both; writes dist/folio-report.json

Run it with the Python of Folio's virtual environment after `pip install -e .[package]`
(`python3 scripts/bootstrap.py package` does all of that). The smoke test runs the bundle
with an empty HOME, no virtualenv on PATH, no PYTHONPATH, from an empty folder outside the
source tree, and without network when `unshare` can make a namespace for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
BUNDLE = DIST / "folio"
REPORT = DIST / "folio-report.json"
SMOKE_TIMEOUT_S = 900

sys.path.insert(0, str(ROOT / "packaging"))


def say(line: str) -> None:
    print(f"[folio package] {line}", flush=True)


def build() -> dict[str, object]:
    """Run PyInstaller on the spec; returns the build time and the bundle's sizes."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        sys.exit("PyInstaller is missing: pip install -e '.[package]' (or bootstrap.py package)")
    started = time.monotonic()
    subprocess.run([sys.executable, str(ROOT / "packaging" / "make_icons.py")], check=True)
    say("building dist/folio with PyInstaller (a few minutes)")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level=WARN",
            f"--distpath={DIST}",
            f"--workpath={ROOT / 'build' / 'pyinstaller'}",
            str(ROOT / "packaging" / "folio.spec"),
        ],
        cwd=ROOT,
        check=True,
    )
    if sys.platform.startswith("linux"):  # the menu entry, its icon and their installer
        for extra in (
            ROOT / "packaging" / "folio.desktop",
            ROOT / "packaging" / "install-linux.sh",
            ROOT / "desktop" / "ui" / "assets" / "folio.svg",
        ):
            shutil.copy2(extra, BUNDLE / extra.name)
    seconds = time.monotonic() - started
    sizes = bundle_sizes(BUNDLE)
    say(
        f"built in {seconds:.0f} s: {sizes['total_mb']} MB, {sizes['without_models_mb']} MB "
        "without the default models"
    )
    return {"build_s": round(seconds, 1), **sizes}


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def bundle_sizes(bundle: Path) -> dict[str, object]:
    """Total size, size without the bundled models, and the five biggest parts (MB)."""
    internal = bundle / "_internal"
    total = _size(bundle)
    models = _size(internal / "models") if (internal / "models").exists() else 0
    parts: dict[str, int] = {}
    for entry in internal.iterdir():
        if entry.name == "models":
            for sub in entry.iterdir():
                parts[f"models/{sub.name}"] = _size(sub)
        else:
            key = entry.name.split(".")[0] if entry.is_file() else entry.name
            parts[key] = parts.get(key, 0) + _size(entry)
    biggest = sorted(parts.items(), key=lambda kv: -kv[1])[:5]
    mb = 1e6
    return {
        "total_mb": round(total / mb, 1),
        "without_models_mb": round((total - models) / mb, 1),
        "models_mb": round(models / mb, 1),
        "biggest_mb": [[name, round(n / mb, 1)] for name, n in biggest],
    }


def _offline_prefix() -> list[str]:
    """`unshare` into a namespace with no network, if this machine allows it."""
    for args in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which(args[0]) is None:
            continue
        probe = subprocess.run([*args, "true"], capture_output=True)
        if probe.returncode == 0:
            return args
    return []


def smoke(bundle: Path = BUNDLE) -> dict[str, object]:
    """Run the bundle like a user who never installed Python; raises on any failure."""
    exe = bundle / ("folio.exe" if os.name == "nt" else "folio")
    if not exe.is_file():
        sys.exit(f"{exe} does not exist: build the bundle first")
    offline = _offline_prefix()
    results: dict[str, object] = {"network_blocked": bool(offline)}
    with tempfile.TemporaryDirectory(prefix="folio-smoke-") as tmp:
        work = Path(tmp)
        # A copy outside the source tree, so nothing can be found through the repository.
        exe = shutil.copytree(bundle, work / "folio", symlinks=True) / exe.name
        home = work / "home"
        home.mkdir()
        env = {
            "HOME": str(home),
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
        }
        if os.name == "nt":
            env = {
                **env,
                "PATH": os.environ.get("SystemRoot", r"C:\Windows"),
                "SystemRoot": os.environ.get("SystemRoot", r"C:\Windows"),
            }

        def run(*args: str, timeout: float = SMOKE_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
            started = time.monotonic()
            out = subprocess.run(
                [*offline, str(exe), *args],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            say(
                f"folio {' '.join(args)[:60]} -> exit {out.returncode} "
                f"in {time.monotonic() - started:.1f} s"
            )
            if out.returncode != 0:
                sys.stderr.write(out.stdout[-4000:] + out.stderr[-4000:])
                raise SystemExit(f"smoke test failed: folio {' '.join(args)}")
            return out

        version = run("--version").stdout.strip()
        results["version"] = version
        # API keys live in the OS keyring: the bundle must carry this platform's backend (an
        # empty home has no keyring running, so "usable" is only reported).
        keyrings = json.loads(run("engines", "keyring", "--json").stdout)
        results["keyring"] = keyrings
        wanted = {"win32": "Windows", "darwin": "macOS"}.get(sys.platform, "SecretService")
        if wanted not in keyrings["carried"]:
            raise SystemExit(f"smoke test failed: keyring backends carried: {keyrings}")
        docs = work / "docs"
        docs.mkdir()
        (docs / "turbine.txt").write_text(
            "Energy figures. The Zorblax turbine at the northern site produced 42 megawatts "
            "at full load during the spring trials.\n",
            encoding="utf-8",
        )
        run("index", str(docs), "--json")
        answer = json.loads(
            run("ask", "How many megawatts did the Zorblax turbine produce?", "--json").stdout
        )
        cited = [c["path"] for c in answer["citations"]]
        if not any(p.endswith("turbine.txt") for p in cited):
            raise SystemExit(f"smoke test failed: the answer cites {cited}")
        results["answer"] = answer["answer"][:200]
        started = time.monotonic()
        run("selftest")
        results["selftest_s"] = round(time.monotonic() - started, 1)
        # Nothing leaves the machine: no library's telemetry queue in the home
        # (desktop/privacy.py); what else lies outside Folio's own folders is reported.
        foreign = sorted(
            str(p.relative_to(home))
            for p in home.rglob("*")
            if p.is_file()
            and not any("folio" in part.lower() for part in p.relative_to(home).parts)
        )
        results["written_outside_folio"] = foreign
        if any(".onnxruntime" in path for path in foreign):
            raise SystemExit(f"smoke test failed: onnxruntime telemetry in the home: {foreign}")
    say("smoke test passed" + ("" if offline else " (network NOT blocked: no unshare here)"))
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "smoke", "all"))
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    if args.action in ("build", "all"):
        report["build"] = build()
    if args.action in ("smoke", "all"):
        report["smoke"] = smoke()
    if args.action == "all":
        REPORT.write_text(json.dumps(report, indent=2), encoding="utf-8")
        say(f"report written to {REPORT}")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
