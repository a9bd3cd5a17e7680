// The Vantage splat viewer: shows one 3D Gaussian-splat scene (.sog, .spz, .ply) with Spark on
// three.js, in the element `#viewer` whose `data-scene-url` names the scene.
//
// Optional attributes on that element: `data-camera="px,py,pz,tx,ty,tz,ux,uy,uz,fov"`, where
// the view starts (eye, orbit target, up, vertical field of view in degrees; without it the view
// frames the scene's bounds), and `data-up="x,y,z"`, the scene's up direction (default
// 0,-1,0: COLMAP and 3DGS scenes keep the OpenCV axes, where y points down).
//
// It renders only when something changed (the camera moved, Spark finished a sort, the window
// was resized): software WebGL draws one or two frames a second, and an idle page should cost
// nothing. `window.vantageViewer` says how it went: {ready, error, splats}.

import { SparkRenderer, SplatMesh } from "@sparkjsdev/spark";
import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

const DEFAULT_UP = new THREE.Vector3(0, -1, 0);
// Bounds come from at most this many splat centres, trimmed to these quantiles, so a few
// floaters far away do not push the camera out of sight of the scene.
const BOUNDS_SAMPLES = 65536;
const BOUNDS_QUANTILES = [0.02, 0.98];
const FIELD_OF_VIEW_DEG = 50;
const VIEW_ELEVATION_DEG = 25;

const STYLE = `
.vantage-viewer { position: relative; overflow: hidden; background: #000; }
.vantage-viewer > canvas { display: block; width: 100%; height: 100%; touch-action: none; }
.vantage-status {
  position: absolute; left: 0.75rem; bottom: 0.75rem; right: 0.75rem; margin: 0;
  font: 14px/1.4 system-ui, sans-serif; color: #eee; text-shadow: 0 1px 2px #000;
  pointer-events: none;
}
.vantage-status.vantage-error {
  color: #fff; background: #a61b1b; padding: 0.5rem 0.75rem; border-radius: 4px;
  text-shadow: none; pointer-events: auto;
}
`;

/** The state tests and embedding pages read; replaced as a whole so readers see one snapshot. */
function publish(patch) {
  window.vantageViewer = { ...window.vantageViewer, ...patch };
}

function installStyle() {
  const style = document.createElement("style");
  style.textContent = STYLE;
  document.head.append(style);
}

function statusLine(container) {
  let status = container.querySelector(".vantage-status");
  if (!status) {
    status = document.createElement("p");
    status.className = "vantage-status";
    container.append(status);
  }
  status.setAttribute("role", "status");
  return status;
}

function parseUp(text) {
  if (!text) {
    return DEFAULT_UP.clone();
  }
  const parts = text.split(",").map(Number);
  const up = new THREE.Vector3(...parts);
  if (parts.length !== 3 || !parts.every(Number.isFinite) || up.lengthSq() === 0) {
    throw new Error(`data-up must be three numbers "x,y,z", not "${text}"`);
  }
  return up.normalize();
}

/** `data-camera="px,py,pz,tx,ty,tz,ux,uy,uz,fov"`: where the view starts, or null. */
function parseCamera(text) {
  if (!text) {
    return null;
  }
  const parts = text.split(",").map(Number);
  if (parts.length !== 10 || !parts.every(Number.isFinite)) {
    throw new Error(`data-camera must be ten numbers, not "${text}"`);
  }
  const up = new THREE.Vector3(...parts.slice(6, 9));
  if (up.lengthSq() === 0 || parts[9] <= 0 || parts[9] >= 180) {
    throw new Error(`data-camera has no usable up direction or field of view: "${text}"`);
  }
  return {
    position: new THREE.Vector3(...parts.slice(0, 3)),
    target: new THREE.Vector3(...parts.slice(3, 6)),
    up: up.normalize(),
    fov: parts[9],
  };
}

/** Start at a capture's own camera, orbiting its target; `box` sets the clipping range. */
function placeCamera(camera, controls, start, box) {
  const distance = Math.max(start.position.distanceTo(start.target), 1e-3);
  const size = box ? box.getSize(new THREE.Vector3()).length() : distance * 4;
  camera.fov = start.fov;
  camera.position.copy(start.position);
  camera.near = distance / 1000;
  camera.far = Math.max(distance, size) * 100;
  camera.updateProjectionMatrix();
  controls.target.copy(start.target);
  controls.minDistance = distance / 100;
  controls.maxDistance = Math.max(distance, size) * 20;
  controls.update();
}

function fileNameOf(url) {
  const path = new URL(url, window.location.href).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
}

function formatBytes(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`;
}

/** Fetch the scene ourselves (a failed request then says why) and let Spark decode the stream. */
async function loadScene(url, fileName, onProgress) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`${url}: ${error instanceof Error ? error.message : error}`);
  }
  if (!response.ok || !response.body) {
    throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
  }
  const length = Number.parseInt(response.headers.get("Content-Length") ?? "", 10);
  const mesh = new SplatMesh({
    stream: response.body,
    streamLength: Number.isFinite(length) ? length : 0,
    fileName,
    onProgress,
  });
  try {
    await mesh.initialized;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // Spark 2.2 reads gzip SPZ (versions 2 and 3); version 4 files fail on the gzip header.
    const hint = /\.spz$/i.test(fileName) && /gzip/i.test(reason) ? " (SPZ version 4?)" : "";
    throw new Error(`${fileName} cannot be decoded: ${reason}${hint}`);
  }
  if (!mesh.numSplats) {
    throw new Error(`${url} holds no splats`);
  }
  return mesh;
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The box holding most splat centres (trimmed quantiles of a sample) in world axes, or null. */
function sceneBounds(mesh) {
  const step = Math.max(1, Math.ceil(mesh.numSplats / BOUNDS_SAMPLES));
  const count = Math.ceil(mesh.numSplats / step);
  const axes = [new Float32Array(count), new Float32Array(count), new Float32Array(count)];
  let taken = 0;
  mesh.forEachSplat((index, center) => {
    if (index % step === 0 && taken < count) {
      axes[0][taken] = center.x;
      axes[1][taken] = center.y;
      axes[2][taken] = center.z;
      taken += 1;
    }
  });
  if (taken === 0) {
    return null;
  }
  const low = [];
  const high = [];
  for (const values of axes) {
    const sorted = values.subarray(0, taken).sort();
    low.push(quantile(sorted, BOUNDS_QUANTILES[0]));
    high.push(quantile(sorted, BOUNDS_QUANTILES[1]));
  }
  const box = new THREE.Box3(new THREE.Vector3(...low), new THREE.Vector3(...high));
  const finite = [...low, ...high].every(Number.isFinite);
  mesh.updateMatrixWorld();
  return finite && !box.isEmpty() ? box.applyMatrix4(mesh.matrixWorld) : null;
}

/** Any unit vector at right angles to `up`. */
function sideways(up) {
  const axis = Math.abs(up.x) < 0.9 ? new THREE.Vector3(1, 0, 0) : new THREE.Vector3(0, 0, 1);
  return new THREE.Vector3().crossVectors(up, axis).normalize();
}

/** Look at `box` from the side and a little above, from far enough to see all of it. */
function fitCamera(camera, controls, box, up) {
  const center = box ? box.getCenter(new THREE.Vector3()) : new THREE.Vector3();
  const radius = box ? Math.max(box.getSize(new THREE.Vector3()).length() / 2, 1e-3) : 1;
  const verticalFov = THREE.MathUtils.degToRad(camera.fov);
  const horizontalFov = 2 * Math.atan(Math.tan(verticalFov / 2) * camera.aspect);
  const distance = (1.1 * radius) / Math.sin(Math.min(verticalFov, horizontalFov) / 2);
  const elevation = THREE.MathUtils.degToRad(VIEW_ELEVATION_DEG);
  const direction = sideways(up)
    .multiplyScalar(Math.cos(elevation))
    .addScaledVector(up, Math.sin(elevation));
  camera.position.copy(center).addScaledVector(direction, distance);
  camera.near = distance / 1000;
  camera.far = distance * 100;
  camera.updateProjectionMatrix();
  controls.target.copy(center);
  controls.minDistance = radius / 100;
  controls.maxDistance = distance * 20;
  controls.update();
}

function createView(container, up) {
  // antialias off, as Spark advises: it costs much and does nothing for splats.
  const renderer = new THREE.WebGLRenderer({ antialias: false });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  container.prepend(renderer.domElement);
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(FIELD_OF_VIEW_DEG, 1, 0.01, 1000);
  camera.up.copy(up); // before OrbitControls, which reads it once
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = false; // damping needs a frame every tick; we render on demand

  let frameRequested = false;
  const view = { renderer, scene, camera, controls, afterRender: () => {} };
  view.requestRender = () => {
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(() => {
        frameRequested = false;
        renderer.render(scene, camera);
        view.afterRender();
      });
    }
  };
  view.spark = new SparkRenderer({ renderer, onDirty: view.requestRender });
  scene.add(view.spark);
  controls.addEventListener("change", view.requestRender);

  const resize = () => {
    const width = container.clientWidth || window.innerWidth;
    const height = container.clientHeight || window.innerHeight;
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    view.requestRender();
  };
  window.addEventListener("resize", resize);
  resize();
  return view;
}

async function start(container) {
  publish({ ready: false, error: null, splats: 0 });
  installStyle();
  container.classList.add("vantage-viewer");
  const status = statusLine(container);
  try {
    const url = container.dataset.sceneUrl;
    if (!url) {
      throw new Error("the page names no scene (data-scene-url is missing)");
    }
    const start = parseCamera(container.dataset.camera);
    const up = start ? start.up : parseUp(container.dataset.up);
    status.textContent = "Loading the scene…";
    const view = createView(container, up);
    const fileName = fileNameOf(url);
    const mesh = await loadScene(url, fileName, (event) => {
      const share = event.total ? ` (${Math.round((100 * event.loaded) / event.total)} %)` : "";
      status.textContent = `Loading the scene… ${formatBytes(event.loaded)}${share}`;
    });
    status.textContent = `Sorting ${mesh.numSplats.toLocaleString()} splats…`;
    if (/\.spz$/i.test(fileName)) {
      // SPZ stores OpenGL axes (y up, z back) and Spark keeps them; turn the scene half a turn
      // about x into the OpenCV axes of PLY and SOG, so `up` means the same for every format.
      mesh.quaternion.set(1, 0, 0, 0);
    }
    if (start) {
      placeCamera(view.camera, view.controls, start, sceneBounds(mesh));
    } else {
      fitCamera(view.camera, view.controls, sceneBounds(mesh), up);
    }
    view.scene.add(mesh);
    // Spark sorts in a worker and calls onDirty when done; the frame after that shows splats.
    view.afterRender = () => {
      if (view.spark.activeSplats > 0) {
        view.afterRender = () => {};
        status.hidden = true;
        publish({ ready: true, splats: mesh.numSplats });
      }
    };
    view.requestRender();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error("vantage viewer: cannot show the scene:", error);
    status.hidden = false;
    status.classList.add("vantage-error");
    status.textContent = `Cannot show the scene: ${message}`;
    publish({ ready: false, error: message });
  }
}

const container = document.getElementById("viewer");
if (container) {
  start(container);
} else {
  const message = "the page has no element with id 'viewer'";
  console.error(`vantage viewer: ${message}`);
  publish({ ready: false, error: message, splats: 0 });
}
