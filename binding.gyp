{
  # node-gyp build, used by `npm install` through node-gyp-build. CMakeLists.txt builds the same addon with
  # cmake-js; both take their sources, includes and LibTorch flags from scripts/build-config.js. The optimizer
  # benchmark's addon (bert_trainer_bench) is CMakeLists.txt's only, built on demand, so npm install never compiles it.
  "targets": [
    {
      "target_name": "bert_trainer",
      "sources": ["<!@(node scripts/build-config.js sources)"],
      "include_dirs": ["<!@(node scripts/build-config.js includes)"],
      "defines": ["<!@(node scripts/build-config.js defines)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++<!(node scripts/build-config.js std)", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["<!@(node scripts/build-config.js libs)"]
    }
  ]
}
