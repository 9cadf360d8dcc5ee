#!/usr/bin/env bash
# ViSQOL audio mode against Google's own conformance numbers (google/visqol src/include/conformance.h,
# from its C++ at v3.3): the ten audio-mode cases of tests/conformance_test.cc, on the files of its testdata/
# folder, which are not part of ldmrecon (TCDAudio14 excerpts). Not a CI test: it needs a checkout of
# google/visqol. Prints ldmrecon's MOS-LQO, Google's and the difference.
#   bench/visqol_conformance.sh GOOGLE_VISQOL_CHECKOUT [LDMRECON_BINARY]
set -euo pipefail
root=${1:?usage: visqol_conformance.sh GOOGLE_VISQOL_CHECKOUT [LDMRECON_BINARY]}
bin=${2:-$(dirname "$0")/../build/ldmrecon}
c=$root/testdata/conformance_testdata_subset
cases=(
  "strauss48_stereo strauss48_stereo_lp35 1.3888791489130758"
  "steely48_stereo steely48_stereo_lp7 2.2501683734385183"
  "sopr48_stereo sopr48_stereo_256kbps_aac 4.68228969737946"
  "ravel48_stereo ravel48_stereo_128kbps_opus 4.465141897255348"
  "moonlight48_stereo moonlight48_stereo_128kbps_aac 4.684292801646114"
  "harpsichord48_stereo harpsichord48_stereo_96kbps_mp3 4.22374532766003"
  "guitar48_stereo guitar48_stereo_64kbps_aac 4.349722308064298"
  "glock48_stereo glock48_stereo_48kbps_aac 4.332452943882108"
  "contrabassoon48_stereo contrabassoon48_stereo_24kbps_aac 2.346868205375293"
  "castanets48_stereo castanets48_stereo 4.732101253042348"
)
printf '%-36s %12s %12s %10s\n' degraded ldmrecon google difference
for line in "${cases[@]}"; do
  read -r ref deg google <<<"$line"
  ours=$("$bin" metrics "$c/$ref.wav" "$c/$deg.wav" --sample-rate 48000 --metrics visqol_audio --json |
         sed -n 's/.*"visqol_audio": \([-0-9.e]*\).*/\1/p')
  awk -v d="$deg" -v o="$ours" -v g="$google" 'BEGIN { printf "%-36s %12.6f %12.6f %10.2e\n", d, o, g, o - g }'
done
