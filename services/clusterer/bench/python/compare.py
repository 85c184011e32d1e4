"""scikit-learn's side of the clusterer's quality harness (bench/quality.ts).

Reads the harness' vectors and labels from a directory, clusters the same vectors with
sklearn.cluster.HDBSCAN (same min_cluster_size and min_samples), scores every labelling against
the ground truth with sklearn.metrics, and prints one JSON object on stdout.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.cluster import HDBSCAN
from sklearn.metrics import (
    adjusted_rand_score,
    homogeneity_completeness_v_measure,
    normalized_mutual_info_score,
)


def scores(truth, predicted):
    homogeneity, completeness, v_measure = homogeneity_completeness_v_measure(truth, predicted)
    return {
        "ari": adjusted_rand_score(truth, predicted),
        "nmi": normalized_mutual_info_score(truth, predicted),
        "homogeneity": homogeneity,
        "completeness": completeness,
        "vMeasure": v_measure,
    }


def hdbscan(vectors, params):
    started = time.perf_counter()
    labels = HDBSCAN(
        min_cluster_size=params["minClusterSize"],
        min_samples=params["minSamples"],
        copy=True,
    ).fit_predict(vectors)
    return labels, time.perf_counter() - started


def main(directory: Path) -> None:
    spec = json.loads((directory / "labels.json").read_text())
    vectors = np.fromfile(directory / "vectors.f32", dtype=np.float32).reshape(-1, spec["dimension"])
    truth = np.array(spec["truth"])
    params = spec["hdbscan"]

    flat_index = np.array(spec["flat"]["indices"])
    flat_labels, flat_seconds = hdbscan(vectors[flat_index], params)
    ours_flat = np.array(spec["flat"]["ours"])

    labellings = {name: np.array(labels) for name, labels in spec["labellings"].items()}
    result = {
        "sklearn": sklearn.__version__,
        "flat": {
            "seconds": flat_seconds,
            "clusters": int(flat_labels.max() + 1),
            "noise": int((flat_labels == -1).sum()),
            "agreementWithOurs": adjusted_rand_score(ours_flat, flat_labels),
            "identicalPartition": bool(adjusted_rand_score(ours_flat, flat_labels) == 1.0),
        },
        "scores": {
            name: scores(truth[np.array(spec["subsets"].get(name, range(len(truth))))], labels)
            for name, labels in labellings.items()
        },
        "groups": [],
    }
    result["scores"]["flat HDBSCAN (scikit-learn)"] = scores(truth[flat_index], flat_labels)
    for group in spec["groups"]:
        labels, seconds = hdbscan(vectors[np.array(group["indices"])], params)
        result["groups"].append(
            {
                "name": group["name"],
                "points": len(group["indices"]),
                "seconds": seconds,
                "agreementWithOurs": adjusted_rand_score(group["ours"], labels),
            }
        )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
