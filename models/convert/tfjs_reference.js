// Reference runtime for TF.js graph models: run the ORIGINAL model.json + .bin with
// @tensorflow/tfjs (pure-JS CPU backend) so a converter can compare its ONNX against it.
//
// Why a separate node script: the TF.js graph executor is the runtime these weights were
// published for; tf2onnx re-implements its ops, so the golden outputs must come from TF.js itself.
//
// Usage: node tfjs_reference.js <model.json> <io_dir>
//   <io_dir>/inputs.json  = {"<graph input name>": {"file": "x.f32", "shape": [1, 3, 416, 416]}}
//   each "file" is raw little-endian float32 data (C order) written by python.
// Writes <io_dir>/outputs.json = {"<graph output name>": {"file": "...", "shape": [...]}} and the
// raw float32 output files next to it. @tensorflow/tfjs must be resolvable (NODE_PATH).

'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

// An IOHandler that reads model.json and its weight shards from disk (no fetch, no network).
function diskHandler(modelJsonPath) {
  return {
    load: async () => {
      const spec = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
      const dir = path.dirname(modelJsonPath);
      const weightSpecs = [];
      const buffers = [];
      for (const group of spec.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) buffers.push(fs.readFileSync(path.join(dir, shard)));
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: spec.modelTopology,
        format: spec.format,
        generatedBy: spec.generatedBy,
        convertedBy: spec.convertedBy,
        signature: spec.signature,
        userDefinedMetadata: spec.userDefinedMetadata,
        weightSpecs,
        weightData,
      };
    },
  };
}

function readFloat32(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

async function main() {
  const [modelJson, ioDir] = process.argv.slice(2);
  if (!modelJson || !ioDir) throw new Error('usage: node tfjs_reference.js <model.json> <io_dir>');
  await tf.setBackend('cpu');
  await tf.ready();
  const model = await tf.loadGraphModel(diskHandler(modelJson));

  const inputsSpec = JSON.parse(fs.readFileSync(path.join(ioDir, 'inputs.json'), 'utf8'));
  const feeds = {};
  for (const [name, item] of Object.entries(inputsSpec)) {
    feeds[name] = tf.tensor(readFloat32(path.join(ioDir, item.file)), item.shape, 'float32');
  }
  const outputNames = model.outputs.map((o) => o.name);
  const started = Date.now();
  let results = model.execute(feeds, outputNames);
  if (!Array.isArray(results)) results = [results];
  const outputsSpec = {};
  for (let i = 0; i < outputNames.length; i += 1) {
    const name = outputNames[i];
    const file = `out_${i}.f32`;
    const data = await results[i].data();
    fs.writeFileSync(path.join(ioDir, file), Buffer.from(new Float32Array(data).buffer));
    outputsSpec[name] = { file, shape: results[i].shape };
  }
  fs.writeFileSync(path.join(ioDir, 'outputs.json'), JSON.stringify(outputsSpec, null, 1));
  console.log(`tfjs ${tf.version.tfjs} backend ${tf.getBackend()}: ${outputNames.length} outputs in ${Date.now() - started} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
