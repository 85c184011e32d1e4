export { termsOf, topTerms } from './terms.js';
