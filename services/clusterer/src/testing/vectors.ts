import { create } from '@bufbuild/protobuf';
import { Operation, ResponseFormatType, StructuralSignatureSchema } from '@understudy/contracts';
import type { CallTable } from '../domain/discovery/discovery.js';
import type { SignatureFacts } from '../domain/discovery/structure.js';
import { Random } from './corpus/random.js';

/** Seeded synthetic embeddings for the discovery tests: unit directions and noisy samples around them. */
export class SyntheticSpace {
  private readonly random: Random;

  constructor(
    readonly dimension: number,
    seed: number,
  ) {
    this.random = new Random(seed);
  }

  /** A random unit direction. */
  direction(): Float32Array {
    return unitOf(Float32Array.from({ length: this.dimension }, () => this.gaussian()));
  }

  /** A unit vector near `center`: each coordinate perturbed by `spread` standard deviations. */
  around(center: ArrayLike<number>, spread: number): Float32Array {
    return unitOf(
      Float32Array.from(
        { length: this.dimension },
        (_, k) => (center[k] as number) + spread * this.gaussian(),
      ),
    );
  }

  private gaussian(): number {
    return (
      Math.sqrt(-2 * Math.log(this.random.next() || 1e-12)) *
      Math.cos(2 * Math.PI * this.random.next())
    );
  }
}

function unitOf(vector: Float32Array): Float32Array {
  const norm = Math.hypot(...vector);
  return vector.map((value) => value / norm);
}

/** A signature with the fields discovery reads; the digest names it. */
export function signature(
  digest: string,
  fields: Partial<Omit<SignatureFacts, 'digest'>> = {},
): SignatureFacts {
  return create(StructuralSignatureSchema, {
    digest,
    agentName: 'agent',
    stepName: 'step',
    operation: Operation.CHAT,
    responseFormat: ResponseFormatType.TEXT,
    ...fields,
  });
}

/** Builds a CallTable from (signature, vector or undefined) rows. */
export function callTable(
  dimension: number,
  calls: readonly { readonly signature: SignatureFacts; readonly vector?: Float32Array }[],
): CallTable {
  const signatures: SignatureFacts[] = [];
  const index = new Map<string, number>();
  const vectors = new Float32Array(calls.length * dimension);
  const hasVector = new Uint8Array(calls.length);
  const signatureOf = Int32Array.from(calls, (call, i) => {
    if (call.vector !== undefined) {
      vectors.set(call.vector, i * dimension);
      hasVector[i] = 1;
    }
    const known = index.get(call.signature.digest);
    if (known !== undefined) return known;
    index.set(call.signature.digest, signatures.length);
    return signatures.push(call.signature) - 1;
  });
  return { dimension, vectors, hasVector, signatureOf, signatures };
}
