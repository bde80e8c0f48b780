"""Shape the freshly generated project to the chosen options.

Options remove or rename whole files here, so the Python that a learner reads
carries no template conditionals. Then the project gets its own git repository
with a first commit, and the next steps are printed.
"""

import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = {{ cookiecutter.package_name | tojson }}
TASK = {{ cookiecutter.task | tojson }}
LICENSE = {{ cookiecutter.license | tojson }}
DEPLOY_TARGET = {{ cookiecutter.deploy_target | tojson }}
GITHUB_ACTIONS = {{ cookiecutter.include_github_actions | tojson }}
KUBERNETES = {{ cookiecutter.kubernetes | tojson }}
AUTHOR_NAME = {{ cookiecutter.author_name | tojson }}
AUTHOR_EMAIL = {{ cookiecutter.author_email | tojson }}
MODEL = {{ cookiecutter.model | tojson }}

SRC = Path("src") / PACKAGE
TASKS = ("classification", "regression")

# What each option value does not need. Paths are relative to the project root.
# Each deploy target is whole files (target_<name>.py and what only it uses), so a
# project made for one target carries no code, settings or tests of the other.
DEPLOY = SRC / "deploy"
AWS_ONLY = [
    DEPLOY / "aws.py", DEPLOY / "aws_settings.py", DEPLOY / "cost_guard.py",
    DEPLOY / "pricing.py", DEPLOY / "target_aws.py",
    Path("tests/deploy/test_aws.py"), Path("tests/deploy/test_aws_commands.py"),
    Path("tests/deploy/test_cost_guard.py"), Path("tests/deploy/test_pricing.py"),
    DEPLOY / "ecr.py", Path("tests/deploy/test_ecr.py"),  # make push's ECR (kubernetes=yes)
]  # fmt: skip
SSH_ONLY = [DEPLOY / "target_ssh.py"]
# make practice-vm: an SSH host on this computer (the ssh target's; none for aws alone).
SSH_ONLY += [DEPLOY / "practice_vm.py", Path("practice-vm")]
SSH_ONLY += [Path("tests/deploy/test_practice_vm.py")]
REMOVE_FOR = {
    ("license", "none"): [Path("LICENSE")],
    ("include_github_actions", "no"): [Path(".github")],
    ("deploy_target", "ssh"): AWS_ONLY,
    # deploy_target=aws keeps ssh.py and releases.py: the instance is driven over SSH.
    ("deploy_target", "aws"): SSH_ONLY,
    # make monitor fetches a deployed log with deploy/'s SSH: no deploy, no fetch.py.
    ("deploy_target", "none"): [DEPLOY, Path("tests/deploy"), SRC / "monitor" / "fetch.py"],
}
REMOVE_FOR[("deploy_target", "none")].append(Path("practice-vm"))  # make practice-vm's image
REMOVE_FOR[("deploy_target", "none")].append(Path("docs/deploy.md"))  # the README links it from step 6


def remove(path: Path) -> None:
    # A listed path that does not exist is a template bug: fail loudly.
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def remove_unused_files() -> None:
    chosen = {("license", LICENSE), ("include_github_actions", GITHUB_ACTIONS), ("deploy_target", DEPLOY_TARGET)}
    for key, paths in REMOVE_FOR.items():
        if key in chosen:
            for path in paths:
                remove(path)


def kubernetes_files() -> list[Path]:
    """What `kubernetes=no` removes: make push, the manifests, and (AWS) the ECR repository code."""
    files = [Path("k8s"), SRC / "k8s", SRC / "container" / "push.py", Path("tests/k8s")]
    files.append(Path("tests/container/test_push.py"))
    files.append(Path("docs/kubernetes.md"))  # the README links it from "Scale past one machine"
    if DEPLOY_TARGET in ("aws", "both"):
        files += [SRC / "deploy" / "ecr.py", Path("tests/deploy/test_ecr.py")]
    return files


def remove_kubernetes_files() -> None:
    if KUBERNETES == "no":
        for path in kubernetes_files():
            remove(path)
        if not any(Path("tests/container").iterdir()):
            Path("tests/container").rmdir()


def remove_xgboost_files() -> None:
    """model=xgboost alone brings XGBoost's step and its tests (and, in pyproject, its packages)."""
    if MODEL != "xgboost":
        for path in (SRC / "contract" / "xgboost_model.py", Path("tests/model/test_xgboost.py")):
            remove(path)


def keep_sample_for_task() -> None:
    """The template ships one sample-data generator per task; keep the chosen one as sample.py."""
    for task in TASKS:
        generator = SRC / "data" / f"sample_{task}.py"
        if task == TASK:
            generator.rename(SRC / "data" / "sample.py")
        else:
            generator.unlink()


def write_settings_page() -> None:
    """docs/settings.md from the .env.example this bake kept (its options' settings only),
    by the project's own settings_doc.py (standard library), which `make settings-doc` reruns."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("settings_doc", SRC / "settings_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(Path.cwd())


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True, text=True)


def init_git_repository() -> None:
    """Learn git early: every project starts as a repository with one commit."""
    if shutil.which("git") is None:
        return
    try:
        git("init", "--quiet", "--initial-branch=main")
        git("add", "--all")
        # Use the author from the template only where git has no identity configured.
        identity = []
        for key, value in (("user.name", AUTHOR_NAME), ("user.email", AUTHOR_EMAIL)):
            if subprocess.run(["git", "config", key], capture_output=True).returncode != 0:
                identity += ["-c", f"{key}={value}"]
        git(*identity, "commit", "--quiet", "--message", "Start from the coldstart template")
    except (subprocess.CalledProcessError, OSError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        print(f"note: git repository not initialised ({detail.strip()}); run `git init` yourself.")


def print_next_steps() -> None:
    project = Path.cwd().name
    print(
        f"""
Your project is ready in ./{project}

Next steps:
  cd {project}
  make setup        # create .venv and install the project
  make data         # write the dirty sample data set
  make train        # clean, train, track in MLflow, register the model
  make serve        # start the prediction service on http://127.0.0.1:8000
  make help         # every command, one line each
"""
    )


if __name__ == "__main__":
    remove_unused_files()
    remove_kubernetes_files()
    remove_xgboost_files()
    keep_sample_for_task()
    write_settings_page()
    init_git_repository()
    print_next_steps()
    sys.exit(0)
