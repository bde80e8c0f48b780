"""`make k8s | k8s-apply | k8s-status | k8s-delete | k8s-measure`.

python -m {{ cookiecutter.package_name }}.k8s render [--image REF]   # build/k8s/{cpu,gpu}.yaml, validated
python -m {{ cookiecutter.package_name }}.k8s apply | status | delete   # kubectl, current context
python -m {{ cookiecutter.package_name }}.k8s measure                   # memory and CPU under load
"""

from typing import Annotated

import typer

from .. import cli
from . import cluster, render
from .settings import KubeSettings

app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0], no_args_is_help=True)
Image = Annotated[str | None, typer.Option(help="Image reference instead of the last push's")]


@app.command("render")
def render_command(image: Image = None) -> None:
    """Render k8s/ overlays with the pushed image into build/k8s/, validated."""
    settings = KubeSettings()
    reference = image or render.pushed_image()
    done = render.render_all(reference, settings.version)
    for overlay, objects in done.items():
        print(f"build/k8s/{overlay}.yaml: {', '.join(objects)}")
    print(f"Image {reference}; valid for Kubernetes {settings.version} (strict schema).")


@app.command()
def apply() -> None:
    """Apply the overlay's manifest to kubectl's cluster; wait for the rollout."""
    print(cluster.apply(KubeSettings()))


@app.command()
def status() -> None:
    """Show the deployment, pods, autoscaler and service."""
    print(cluster.status(KubeSettings()))


@app.command()
def delete() -> None:
    """Delete everything apply created."""
    print(cluster.delete(KubeSettings()))


@app.command()
def measure(image: Image = None) -> None:
    """Run the image as the pods do, load it, print memory and CPU."""
    KubeSettings()  # a bad setting is said before Docker starts anything
    from .measure import measure_image  # the Docker SDK only when measuring

    print(measure_image(image))


if __name__ == "__main__":
    cli.run(app)
