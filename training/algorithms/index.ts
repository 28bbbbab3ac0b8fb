import { gbdtTrainer } from './gbdt';
import { linearSvmTrainer } from './linear-svm';
import { logisticRegressionTrainer } from './logistic-regression';
import { naiveBayesTrainer } from './naive-bayes';
import { randomForestTrainer } from './random-forest';
import type { AlgorithmName, Trainer } from './types';

/** Every algorithm, in the order candidates are trained and ties are broken. */
export const TRAINERS: Readonly<Record<AlgorithmName, Trainer>> = {
  lr: logisticRegressionTrainer,
  gbdt: gbdtTrainer,
  rf: randomForestTrainer,
  nb: naiveBayesTrainer,
  svm: linearSvmTrainer,
};

export const ALGORITHMS = Object.keys(TRAINERS) as AlgorithmName[];

export function isAlgorithm(name: string): name is AlgorithmName {
  return (ALGORITHMS as string[]).includes(name);
}
