# Sourced by the device-machine scripts (device_run.sh, cpu_device_bench.sh): Debian -dev
# packages carried in .debs/ (the device image has no apt access) are unpacked into a private
# prefix $DEPS; a carried runtime library whose soname the image already has becomes a link to
# the image's copy (python's libraries among them), so the Debian one never shadows it.
# Exports PKG_CONFIG_PATH and LD_LIBRARY_PATH for the prefix, and puts the carried pkgconf on
# PATH when the image has no pkg-config.
DEPS=/tmp/ripvec-deps
if [[ -d .debs && ! -d $DEPS ]]; then
  mkdir -p $DEPS
  for f in .debs/*.deb; do
    # An image with its own nlohmann/json (3.11.3 on the 2026-12-06 image) keeps it: headers of
    # two versions in one build gave objects of two ABIs (json_abi_v3_11_2 / v3_11_3) that did
    # not link.
    [[ $f == *nlohmann-json3-dev* && -f /usr/include/nlohmann/json.hpp ]] && continue
    dpkg -x "$f" $DEPS
  done
  for pc in $DEPS/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc $DEPS/usr/share/pkgconfig/*.pc; do
    [[ -f $pc ]] && sed -i "s|^prefix=/usr\$|prefix=$DEPS/usr|" "$pc"
  done
  for f in $(find $DEPS/usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -name 'lib*.so.*'); do
    so=$(basename "$f" | sed -E 's/(\.so\.[0-9]+).*/\1/')
    sys=$(ldconfig -p | awk -v s="$so" '$1 == s && $NF !~ /ripvec-deps/ {print $NF; exit}')
    if [[ -n $sys ]]; then ln -sf "$sys" "$f"; fi
  done
fi
if ! command -v pkg-config >/dev/null && [[ -x $DEPS/usr/bin/pkgconf ]]; then
  ln -sf $DEPS/usr/bin/pkgconf $DEPS/usr/bin/pkg-config
  export PATH=$DEPS/usr/bin:$PATH
fi
export PKG_CONFIG_PATH=$DEPS/usr/lib/x86_64-linux-gnu/pkgconfig:$DEPS/usr/share/pkgconfig:${PKG_CONFIG_PATH:-}
export LD_LIBRARY_PATH=$DEPS/usr/lib/x86_64-linux-gnu/openblas-pthread:$DEPS/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
