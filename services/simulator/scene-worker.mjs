// Worker entry: TypeScript sources run through tsx here too (workers do not inherit loaders).
import { register } from 'tsx/esm/api';

register();
await import('./scene-worker.ts');
