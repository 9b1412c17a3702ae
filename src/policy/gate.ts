import type { DockerRequest } from '../request/types.js';
import type { CompiledPolicy } from './compile.js';
import { canonicalImage } from './image-ref.js';

/** Read-only view of who has said hello, passed into evaluation. */
export interface GreetingView {
  isGreeted(identity: string): boolean;
  readonly anyGreeted: boolean;
  /** Why greetings cannot be read right now (the gate then fails closed and says so), if they cannot. */
  readonly unavailable?: string | undefined;
}

export const helloMessage = (image: string) => `You must say hello first: run "docker run ${image}"`;

/** What a caller who has not said hello is told. */
export function gateMessage(policy: CompiledPolicy, greetings: GreetingView): string {
  const why = greetings.unavailable;
  return why === undefined
    ? policy.hello.message
    : `no greeting can be read (docker-authz cannot use its state database: ${why}); an administrator must fix it (see docker-authz status)`;
}

function isGreetingImage(policy: CompiledPolicy, ref: string | null | undefined, tag?: string | null): boolean {
  return typeof ref === 'string' && ref !== '' && canonicalImage(ref, tag ?? undefined) === policy.hello.image;
}

/** What saying hello needs: the CLI's ping and version negotiation, pulling and creating the greeting. */
export function isGreetingStep(policy: CompiledPolicy, req: DockerRequest): boolean {
  switch (req.op) {
    case 'system.ping':
    case 'system.version':
      return true;
    case 'image.create':
      return (
        req.subject.kind === 'image-create' &&
        !req.subject.query.has('fromSrc') &&
        isGreetingImage(policy, req.subject.query.get('fromImage'), req.subject.query.get('tag'))
      );
    case 'container.create':
      return req.subject.kind === 'container' && isGreetingImage(policy, req.subject.image);
    default:
      return false;
  }
}

export function hasSaidHello(policy: CompiledPolicy, greetings: GreetingView, identity: string): boolean {
  return !policy.hello.enabled || (policy.hello.scope === 'global' ? greetings.anyGreeted : greetings.isGreeted(identity));
}

/** True when a create the daemon answered 201 made the greeting container. */
export function isGreetingCreate(policy: CompiledPolicy, req: DockerRequest): boolean {
  return req.op === 'container.create' && req.subject.kind === 'container' && isGreetingImage(policy, req.subject.image);
}
