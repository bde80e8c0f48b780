"""LitServe on this project's bundle's ONNX graph, as a careful user would write it: a peer
for `make bench-peers` (bench_serve.py --peers), never part of the project or its image.

    python peer_litserve.py PORT     POST /predict {"records": [...]} -> [{...}, ...]

PEER_BUNDLE names the bundle folder; the project's src/ is on PYTHONPATH (see
peer_bentoml.py, whose answers this shares).
"""

import sys

import litserve
from peer_bentoml import answers, onnx_scores, onnx_session


class OnnxAPI(litserve.LitAPI):
    def setup(self, device):
        self.session = onnx_session()

    def decode_request(self, request):
        return request["records"]

    def predict(self, records):
        return answers(onnx_scores(self.session, records))

    def encode_response(self, output):
        return output


if __name__ == "__main__":
    server = litserve.LitServer(OnnxAPI(), accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=int(sys.argv[1]), generate_client_file=False)
