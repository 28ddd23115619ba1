// Whether ops record the autograd graph. Off inside noGrad (inference, optimizer updates, backward itself).

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

export function noGrad<T>(fn: () => T): T {
  const saved = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = saved;
  }
}
