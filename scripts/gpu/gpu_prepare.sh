#!/usr/bin/env bash
# Run HERE, on the machine without a GPU, before the device call of docs/gpu.md (it costs no device time): copies
# what the GPU image lacks into .whl/ (ignored by git: /.whl/ in .gitignore), to be named in the call's carry:
#   .whl/site/seqeval   the seqeval package (pure Python; scikit-learn, its one need, is on the image)
#   .whl/conll2003      eng.train, eng.testa, eng.testb from ../shared/corpora/conll2003 (../shared does not travel)
set -eu -o pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] && python="${PYTHON:-.venv/bin/python}"
seqeval="$("$python" -c 'import os, seqeval; print(os.path.dirname(seqeval.__file__))')"
rm -rf .whl/site/seqeval
mkdir -p .whl/site
cp -r "$seqeval" .whl/site/seqeval
find .whl/site -name __pycache__ -type d -prune -exec rm -rf {} +
conll="${GPU_CHECK_CONLL:-../shared/corpora/conll2003}"
if [ -f "$conll/eng.train" ] && [ -f "$conll/eng.testa" ] && [ -f "$conll/eng.testb" ]; then
    mkdir -p .whl/conll2003
    cp "$conll/eng.train" "$conll/eng.testa" "$conll/eng.testb" .whl/conll2003/
else
    echo "gpu_prepare.sh: no CoNLL-2003 in $conll: the train and accurate stages will be skipped" >&2
fi
git check-ignore -q .whl/site .whl/conll2003 2>/dev/null || echo "gpu_prepare.sh: warning: .whl/ is not ignored by git" >&2
du -sh .whl/site .whl/conll2003 2>/dev/null || true
echo "carry: [\".whl/site\", \".whl/conll2003\"]"
