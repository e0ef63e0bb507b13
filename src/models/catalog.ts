/** The pretrained models `edgewatch models pull` knows: which npm tarball ships each, where, and its edgewatch manifest. */
import type { TaskType } from '../types.js';

/** The `edgewatch.json` written next to a pulled model (validated by the infer stage's manifest reader). */
export interface PulledManifest {
  name: string;
  task: TaskType;
  labels: string[];
  input: {
    width: number;
    height: number;
    channels: 1 | 3;
    fit: 'fill' | 'cover' | 'contain';
    channelOrder: 'rgb' | 'bgr';
    mean: number[];
    std: number[];
  };
  output: Record<string, unknown>;
}

/**
 * Where a model lives in a package: `browserify-bundle` is nsfwjs's layout (`model.min.js` exporting
 * the model.json object, `<shard>.min.js` exporting each shard as base64); `plain` is an ordinary
 * model.json with binary shards next to it.
 */
export type PackageLayout = 'browserify-bundle' | 'plain';

/** One model that `models pull` can fetch. */
export interface KnownModel {
  /** Folder name under the destination directory, and the name users type. */
  name: string;
  description: string;
  /** npm package name and exact version. */
  package: string;
  version: string;
  /** The tarball's Subresource Integrity string (`sha512-…`) as the registry publishes it (`npm view <pkg>@<v> dist.integrity`). */
  integrity: string;
  /** What `npm pack` is given; defaults to `<package>@<version>` (tests point it at a local tarball). */
  spec?: string;
  /** SPDX licence id and the licence file's path inside the package. */
  license: string;
  licenseFile: string;
  layout: PackageLayout;
  /** Folder of the model inside the package (relative to `package/`). */
  modelDir: string;
  /** The model.json (plain) or its bundle (browserify-bundle), inside `modelDir`. */
  modelFile: string;
  manifest: PulledManifest;
  /**
   * Graph models only: the signature outputs to keep, in order (the others are dropped from
   * model.json's signature so that `execute()` returns just these). Recorded in SOURCE.txt.
   */
  keepOutputs?: string[];
}

const NSFWJS = {
  package: 'nsfwjs',
  version: '4.4.0',
  integrity: 'sha512-krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA==',
  license: 'MIT',
  licenseFile: 'LICENSE',
  layout: 'browserify-bundle',
  modelFile: 'model.min.js',
} as const;

/** nsfwjs's classes, in the order of its output units. */
export const NSFWJS_LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

/** COCO's 80 object classes in CenterNet's class-index order. */
export const COCO_LABELS = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];

function nsfwjsManifest(name: string, size: number): PulledManifest {
  return {
    name,
    task: 'CLASSIFICATION',
    labels: [...NSFWJS_LABELS],
    input: { width: size, height: size, channels: 3, fit: 'fill', channelOrder: 'rgb', mean: [0, 0, 0], std: [255, 255, 255] },
    output: { activation: 'softmax' },
  };
}

/** Every model `models pull` can fetch, by name. */
export const KNOWN_MODELS: readonly KnownModel[] = Object.freeze([
  {
    ...NSFWJS,
    name: 'mobilenet-v2',
    description: 'nsfwjs MobileNetV2 classifier (TF.js layers model, 224×224, 5 classes, uint8-quantised, 2.6 MB)',
    modelDir: 'dist/models/mobilenet_v2',
    manifest: nsfwjsManifest('mobilenet-v2', 224),
  },
  {
    ...NSFWJS,
    name: 'mobilenet-v2-mid',
    description: 'nsfwjs MobileNetV2 "mid" classifier (TF.js graph model, 224×224, 5 classes, 4.3 MB)',
    modelDir: 'dist/models/mobilenet_v2_mid',
    manifest: nsfwjsManifest('mobilenet-v2-mid', 224),
  },
  {
    ...NSFWJS,
    name: 'inception-v3',
    description: 'nsfwjs InceptionV3 classifier (TF.js layers model, 299×299, 5 classes, 22 MB)',
    modelDir: 'dist/models/inception_v3',
    manifest: nsfwjsManifest('inception-v3', 299),
  },
  {
    name: 'centernet',
    description: 'CenterNet COCO object detector from @vladmandic/human (TF.js graph model, 512×512, 80 classes, 4 MB)',
    package: '@vladmandic/human',
    version: '3.3.6',
    integrity: 'sha512-Nr5mPfq1gQ+uKeXY5uM3Fj8UxvF5CEh2s6txM5wRThqaW0mF9huooOuZSrT8hhGho0hGaXLFdAwfD/2+teCv6A==',
    license: 'MIT',
    licenseFile: 'LICENSE',
    layout: 'plain',
    modelDir: 'models',
    modelFile: 'centernet.json',
    keepOutputs: ['tower_0/detections'],
    manifest: {
      name: 'centernet',
      task: 'OBJECT_DETECTION',
      labels: [...COCO_LABELS],
      input: { width: 512, height: 512, channels: 3, fit: 'fill', channelOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1] },
      // tower_0/detections is [1, 100, 6]: x1, y1, x2, y2 in input pixels, score, class index.
      output: { decoder: 'centernet', boxes: 'pixels', scoreThreshold: 0.3, maxDetections: 100 },
    },
  },
] satisfies KnownModel[]);

/** The known model called `name`, or undefined. */
export function findKnownModel(name: string, catalog: readonly KnownModel[] = KNOWN_MODELS): KnownModel | undefined {
  return catalog.find((m) => m.name === name);
}
