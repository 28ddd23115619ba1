{
  "targets": [
    {
      "target_name": "adaptlm_native",
      "sources": [
        "native/binding.c",
        "native/gemm.c",
        "native/kernels.c",
        "native/pool.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": [
        "-O3",
        "-std=gnu11",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-fno-finite-math-only",
        "-fvisibility=hidden",
        "-Werror=implicit-function-declaration",
        "-pthread",
        "-Wall"
      ],
      "cflags!": ["-O2", "-O0"],
      "ldflags": ["-pthread"],
      "libraries": ["-lm"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden"]
      }
    }
  ]
}
